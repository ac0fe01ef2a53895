// Package app builds runtimelink's dependencies once at start from the
// validated configuration: the state store, the sync queue, the secrets
// provider, the Azure credential and the GitHub App's side of GitHub (its
// client factory, installation resolver and identity). Function adapters
// receive them as Deps.
package app

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"

	"github.com/runtimelink/runtimelink/shared/arm"
	"github.com/runtimelink/runtimelink/shared/config"
	"github.com/runtimelink/runtimelink/shared/cosmos"
	"github.com/runtimelink/runtimelink/shared/keyvault"
	"github.com/runtimelink/runtimelink/shared/queue"
	"github.com/runtimelink/runtimelink/shared/resourcegraph"
	"github.com/runtimelink/runtimelink/shared/scoring"
	"github.com/runtimelink/runtimelink/shared/store"
	"github.com/runtimelink/runtimelink/shared/triage"
)

// Pinger is anything the health answer checks.
type Pinger interface {
	Ping(ctx context.Context) error
}

// Deps are what function adapters use.
type Deps struct {
	Config *config.Config
	// db is the Cosmos DB store; callers reach it only through the store
	// layer (State), so every query stays in shared/store.
	db      *cosmos.Store
	Sync    queue.Sync
	Secrets keyvault.Provider
	Logger  *slog.Logger
	Now     func() time.Time
	// Credential is the Azure credential (managed identity in Azure); nil
	// when nothing needs one (local runs).
	Credential azcore.TokenCredential
	// Checks are pinged by the health answer, by name.
	Checks map[string]Pinger
	// Governance writes and reads Defender governance assignments; nil when
	// RUNTIMELINK_GOVERNANCE is off. One client for the process, so the
	// health answer reports the 403 the sync step met.
	Governance *arm.Client
	// GitHub is the App's side of GitHub (GitHubApp): set by Build, or
	// made by the first GitHubApp call.
	GitHub *GitHubApp
}

var (
	credOnce sync.Once
	cred     azcore.TokenCredential
	credErr  error
)

func credential() (azcore.TokenCredential, error) {
	credOnce.Do(func() { cred, credErr = azidentity.NewDefaultAzureCredential(nil) })
	return cred, credErr
}

// Build connects the dependencies cfg describes. It does no network I/O
// against Azure (clients connect lazily), so start-up stays fast; against
// the local emulators it creates the database, containers and queue.
func Build(ctx context.Context, cfg *config.Config, logger *slog.Logger) (*Deps, error) {
	d := &Deps{Config: cfg, Logger: logger, Now: time.Now, Checks: map[string]Pinger{}}
	// One credential (the managed identity in Azure) for everything that
	// needs one: Cosmos DB, the queue, Key Vault and Resource Graph.
	needCred := !cfg.Cosmos.Key.IsSet() || cfg.Storage.UsesIdentity() || cfg.KeyVaultURL != "" || len(cfg.ARM.Subscriptions) > 0 || cfg.Governance
	if needCred {
		c, err := credential()
		if err != nil {
			return nil, fmt.Errorf("azure credential: %w", err)
		}
		d.Credential = c
	}
	local := cfg.Cosmos.Emulator
	store, err := cosmos.Open(ctx, cosmos.Options{
		Endpoint:        cfg.Cosmos.Endpoint,
		Database:        cfg.Cosmos.Database,
		Key:             cfg.Cosmos.Key.Value(),
		Credential:      d.Credential,
		Emulator:        cfg.Cosmos.Emulator,
		CreateIfMissing: local,
	})
	if err != nil {
		return nil, fmt.Errorf("state store: %w", err)
	}
	d.db = store
	d.Checks["cosmos"] = store

	qo := queue.Options{ConnectionString: cfg.Storage.ConnectionString.Value()}
	if cfg.Storage.UsesIdentity() {
		qo = queue.Options{ServiceURL: cfg.Storage.QueueServiceURL, Credential: d.Credential}
	}
	q, err := queue.New(qo)
	if err != nil {
		return nil, fmt.Errorf("sync queue: %w", err)
	}
	if local {
		if err := q.CreateIfMissing(ctx); err != nil {
			return nil, fmt.Errorf("sync queue: %w", err)
		}
	}
	d.Sync = q
	d.Checks["queue"] = q

	if cfg.Governance {
		if d.Governance, err = governance(cfg, d.Credential, logger); err != nil {
			return nil, err
		}
	}

	secrets, err := keyvault.New(cfg, d.Credential)
	if err != nil {
		return nil, fmt.Errorf("secrets: %w", err)
	}
	d.Secrets = secrets
	// An empty or missing secret stops start-up here, not at the first
	// webhook that needs it.
	if err := keyvault.Check(ctx, secrets, cfg.RequiredSecrets()...); err != nil {
		return nil, err
	}
	// The factory reads the App key and mints tokens on first use; only
	// the App's identity is asked now, in the background, so start-up
	// neither waits for GitHub nor fails when it is unreachable.
	if g, err := d.GitHubApp(); err != nil {
		logger.Error("GitHub App not usable; functions that call GitHub will fail", "error", err)
	} else {
		g.Identity.Start()
	}
	return d, nil
}

// State is the store layer over the database: every query, named for what
// it answers. The same *store.Store for the same database (store.New).
func (d *Deps) State() *store.Store { return store.New(d.db) }

// HasDatabase tells whether a Cosmos DB store is connected (Build, or
// WithDatabase); without one, State answers a store layer that cannot work.
func (d *Deps) HasDatabase() bool { return d.db != nil }

// WithDatabase connects db (Build does it; tests pass their emulator's
// store) and answers d.
func (d *Deps) WithDatabase(db *cosmos.Store) *Deps {
	d.db = db
	return d
}

// Triage builds the triage of these dependencies: the store layer, the
// sync queue, the scoring policy (RUNTIMELINK_POLICY) and the issue
// threshold of the configuration.
func (d *Deps) Triage() (*triage.Triage, error) {
	t := &triage.Triage{Store: d.State(), Clusters: d.State(), Logger: d.Logger, Now: d.Now, RuntimeTTL: triage.DefaultRuntimeTTL}
	if d.Sync != nil {
		t.Sync = queue.GroupSyncs{Sync: d.Sync}
	}
	if d.Config != nil {
		p, err := scoring.ParsePolicy(d.Config.Policy)
		if err != nil {
			return nil, fmt.Errorf("RUNTIMELINK_POLICY: %w", err)
		}
		t.Policy = p
		t.MinPriority = d.Config.IssueMinPriority
		t.Cloud = d.Config.Cloud
		t.ProductionClusters = d.Config.ProductionClusters
	}
	return t, nil
}

// governance builds the governance-assignment client: ARM for the writes
// and the per-group reads, Resource Graph for the nightly read of every
// assignment when subscriptions are configured.
func governance(cfg *config.Config, cred azcore.TokenCredential, logger *slog.Logger) (*arm.Client, error) {
	o := arm.Options{Endpoint: cfg.ARM.Endpoint, Logger: logger}
	if len(cfg.ARM.Subscriptions) > 0 {
		g, err := resourcegraph.NewClient(cred, resourcegraph.Options{Endpoint: cfg.ARM.Endpoint, Subscriptions: cfg.ARM.Subscriptions})
		if err != nil {
			return nil, fmt.Errorf("governance assignments: %w", err)
		}
		o.Graph = g
	}
	c, err := arm.New(cred, o)
	if err != nil {
		return nil, fmt.Errorf("governance assignments: %w", err)
	}
	return c, nil
}
