package keyvault

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azsecrets"
)

// VaultOptions tunes a Vault; zero fields take the production defaults.
type VaultOptions struct {
	// Client configures the azsecrets client (transport, retries). Leave
	// DisableChallengeResourceVerification false outside tests: the check
	// refuses a 401 challenge whose resource is not the vault's own domain,
	// which keeps a host that merely claims to be a vault from obtaining a
	// Key Vault token.
	Client azsecrets.ClientOptions
	// TTL is how long a read value is served before it is read again
	// (default 5m), so a rotated secret is picked up within it.
	TTL time.Duration
	// RefreshInterval is the least time between two forced refreshes of one
	// name (default 30s), so a stream of forged webhook signatures cannot
	// turn into a stream of Key Vault reads.
	RefreshInterval time.Duration
	// FailureBackoff is how long a cached value keeps being served after a
	// transient read failure before the next try (default 30s).
	FailureBackoff time.Duration
	// FetchTimeout bounds one read, retries included (default 30s).
	FetchTimeout time.Duration
	// Now is the clock (default time.Now).
	Now func() time.Time
	// Logger receives rotation and stale-value notices (default slog.Default()).
	Logger *slog.Logger
}

// Vault serves secrets from Azure Key Vault. Values are cached for TTL;
// concurrent callers of a missing or expired entry share one read.
type Vault struct {
	client *azsecrets.Client
	opts   VaultOptions

	mu      sync.Mutex
	entries map[string]*entry
}

type entry struct {
	value      string
	version    string
	ok         bool // value holds a read value
	freshUntil time.Time
	lastForced time.Time
	flight     *flight // the read in progress, if any
}

// flight is one read that any number of callers wait for.
type flight struct {
	done   chan struct{}
	joined int // callers that waited on it (tests use it to line callers up)
	value  string
	err    error
}

// NewVault reads secrets from the vault at vaultURL with cred (the managed
// identity in Azure; a fake in tests).
func NewVault(vaultURL string, cred azcore.TokenCredential, opts *VaultOptions) (*Vault, error) {
	if u, err := url.Parse(vaultURL); err != nil || u.Scheme != "https" || u.Host == "" {
		return nil, fmt.Errorf("create Key Vault client: %q is not an https URL", vaultURL)
	}
	var o VaultOptions
	if opts != nil {
		o = *opts
	}
	if o.TTL <= 0 {
		o.TTL = 5 * time.Minute
	}
	if o.RefreshInterval <= 0 {
		o.RefreshInterval = 30 * time.Second
	}
	if o.FailureBackoff <= 0 {
		o.FailureBackoff = 30 * time.Second
	}
	if o.FetchTimeout <= 0 {
		o.FetchTimeout = 30 * time.Second
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	client, err := azsecrets.NewClient(vaultURL, cred, &o.Client)
	if err != nil {
		return nil, fmt.Errorf("create Key Vault client for %s: %w", vaultURL, err)
	}
	return &Vault{client: client, opts: o, entries: map[string]*entry{}}, nil
}

// Get returns the latest version of the named secret, from the cache while
// it is fresh.
func (v *Vault) Get(ctx context.Context, name string) (string, error) {
	if name == "" {
		return "", errors.New("get secret from Key Vault: empty secret name")
	}
	v.mu.Lock()
	e := v.entry(name)
	if e.ok && v.opts.Now().Before(e.freshUntil) {
		value := e.value
		v.mu.Unlock()
		return value, nil
	}
	f := e.flight
	if f == nil {
		f = v.start(ctx, name, e)
	}
	f.joined++
	v.mu.Unlock()
	return v.wait(ctx, name, f)
}

// Refresh reads name again now, unless it was force-refreshed less than
// RefreshInterval ago; then it reads nothing and returns false. The next Get
// returns what it read.
func (v *Vault) Refresh(ctx context.Context, name string) (bool, error) {
	if name == "" {
		return false, errors.New("refresh secret from Key Vault: empty secret name")
	}
	v.mu.Lock()
	e := v.entry(name)
	now := v.opts.Now()
	if !e.lastForced.IsZero() && now.Sub(e.lastForced) < v.opts.RefreshInterval {
		v.mu.Unlock()
		return false, nil
	}
	e.lastForced = now
	// Always a new read, even with one in flight: that one may have been
	// sent before the rotation the caller suspects.
	f := v.start(ctx, name, e)
	f.joined++
	v.mu.Unlock()
	_, err := v.wait(ctx, name, f)
	return true, err
}

// entry returns name's cache entry, creating it; v.mu must be held.
func (v *Vault) entry(name string) *entry {
	e := v.entries[name]
	if e == nil {
		e = &entry{}
		v.entries[name] = e
	}
	return e
}

// start begins a read of name that replaces e.flight; v.mu must be held. The
// read runs detached from the first caller's cancellation, bounded by
// FetchTimeout, so one impatient caller does not fail the others sharing it.
func (v *Vault) start(ctx context.Context, name string, e *entry) *flight {
	f := &flight{done: make(chan struct{})}
	e.flight = f
	go v.fetch(context.WithoutCancel(ctx), name, e, f)
	return f
}

func (v *Vault) wait(ctx context.Context, name string, f *flight) (string, error) {
	select {
	case <-f.done:
		return f.value, f.err
	case <-ctx.Done():
		return "", &Error{Name: name, Err: ctx.Err()}
	}
}

func (v *Vault) fetch(ctx context.Context, name string, e *entry, f *flight) {
	ctx, cancel := context.WithTimeout(ctx, v.opts.FetchTimeout)
	defer cancel()
	value, version, err := v.read(ctx, name)

	v.mu.Lock()
	defer close(f.done)
	defer v.mu.Unlock()
	f.value, f.err = value, err
	if e.flight != f {
		// A forced refresh started after this read; its answer updates the cache.
		return
	}
	e.flight = nil
	now := v.opts.Now()
	switch {
	case err == nil:
		if e.ok && e.version != version {
			v.opts.Logger.InfoContext(ctx, "key vault secret rotated", "secret", name, "version", version)
		}
		e.value, e.version, e.ok, e.freshUntil = value, version, true, now.Add(v.opts.TTL)
	case e.ok && transient(err):
		// Key Vault is briefly unreachable: keep serving the value we have
		// rather than failing every webhook until it is back.
		v.opts.Logger.WarnContext(ctx, "key vault read failed, serving the cached secret",
			"secret", name, "version", e.version, "retryIn", v.opts.FailureBackoff.String(), "error", err.Error())
		e.freshUntil = now.Add(v.opts.FailureBackoff)
		f.value, f.err = e.value, nil
	default:
		// Key Vault said no (deleted, access revoked): stop serving the old value.
		e.value, e.version, e.ok = "", "", false
	}
}

// read fetches the latest version of name.
func (v *Vault) read(ctx context.Context, name string) (value, version string, err error) {
	resp, err := v.client.GetSecret(ctx, name, "", nil)
	if err != nil {
		var re *azcore.ResponseError
		if errors.As(err, &re) {
			return "", "", &Error{Name: name, StatusCode: re.StatusCode, Code: re.ErrorCode, Err: err}
		}
		return "", "", &Error{Name: name, Err: err}
	}
	if resp.Value == nil {
		return "", "", &Error{Name: name, Err: errors.New("the answer holds no value")}
	}
	if resp.ID != nil {
		version = resp.ID.Version()
	}
	return *resp.Value, version, nil
}

// transient reports whether a failed read may succeed on a later try.
func transient(err error) bool {
	var e *Error
	if !errors.As(err, &e) {
		return true
	}
	return e.StatusCode == 0 || e.StatusCode == http.StatusTooManyRequests || e.StatusCode >= 500
}

// Error is a failed read of one secret. It names the secret and, when Key
// Vault answered, the status and error code; it never holds the value.
type Error struct {
	Name       string
	StatusCode int    // 0 when Key Vault gave no answer
	Code       string // Key Vault's error code, such as SecretNotFound
	Err        error
}

func (e *Error) Error() string {
	switch {
	case e.StatusCode != 0 && e.Code != "":
		return fmt.Sprintf("get secret %q from Key Vault: %d %s", e.Name, e.StatusCode, e.Code)
	case e.StatusCode != 0:
		return fmt.Sprintf("get secret %q from Key Vault: status %d", e.Name, e.StatusCode)
	default:
		return fmt.Sprintf("get secret %q from Key Vault: %v", e.Name, e.Err)
	}
}

func (e *Error) Unwrap() error { return e.Err }

// Is makes a 404 match ErrNotFound.
func (e *Error) Is(target error) bool {
	return target == ErrNotFound && e.StatusCode == http.StatusNotFound
}
