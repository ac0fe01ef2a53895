// Package cosmos is runtimelink's state store: typed access to the Cosmos DB
// (NoSQL API) containers of DESIGN.md, with ETag-guarded read-modify-write,
// idempotent creates, content-hash write skipping and streaming queries.
package cosmos

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/data/azcosmos"

	"github.com/runtimelink/runtimelink/shared/model"
)

// DeliveriesTTL is how long webhook delivery ids are remembered. GitHub lets
// a delivery be redelivered for a few days; a week and a day is safely more.
const DeliveriesTTL = 8 * 24 * time.Hour

// JobsTTL is how long cluster job documents are kept after their last
// write: far longer than any client polls a job.
const JobsTTL = 7 * 24 * time.Hour

// Options configure Open.
type Options struct {
	Endpoint string
	Database string
	// Key is the account key (local emulator only); Credential is used when
	// Key is empty (managed identity in Azure).
	Key        string
	Credential azcore.TokenCredential
	// Emulator trusts the local emulator's self-signed certificate. Never set in Azure.
	Emulator bool
	// CreateIfMissing creates the database and containers (local runs and tests;
	// in Azure Terraform creates them and the identity has no control-plane rights).
	CreateIfMissing bool
	// Transport overrides the HTTP transport (tests that cut connections).
	Transport policy.Transporter
}

// MaxConnsPerHost bounds the connections open to one Cosmos DB endpoint.
// Without a bound every concurrent invocation dials its own connection and
// a burst of webhooks exhausts the process's file descriptors ("too many
// open files") instead of waiting a few milliseconds for a pooled one. It
// is well above the handler's HTTP in-flight limit
// (invocation.DefaultMaxHTTPInFlight), leaving room for the triggers
// running beside the HTTP functions and for fan-out within one invocation.
const MaxConnsPerHost = 64

// HTTPClient is the HTTP client Open uses unless Options.Transport is set:
// at most MaxConnsPerHost connections per endpoint, all of them kept idle
// between bursts (a new one costs a TLS handshake). emulator trusts the
// local emulator's self-signed certificate; config refuses
// COSMOS_EMULATOR=true inside Azure.
func HTTPClient(emulator bool) *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxConnsPerHost = MaxConnsPerHost
	tr.MaxIdleConnsPerHost = MaxConnsPerHost
	tr.MaxIdleConns = 4 * MaxConnsPerHost // the account's regional endpoints beside the global one
	tr.IdleConnTimeout = 90 * time.Second
	tr.TLSClientConfig = &tls.Config{MinVersion: tls.VersionTLS12}
	if emulator {
		tr.TLSClientConfig = &tls.Config{InsecureSkipVerify: true} //nolint:gosec // the local emulator only
	}
	return &http.Client{Timeout: 30 * time.Second, Transport: tr}
}

// Store holds one typed container per state container.
type Store struct {
	Artifacts  *Container[model.Artifact]
	Workloads  *Container[model.Workload]
	Findings   *Container[model.Finding]
	Groups     *Container[model.Group]
	Deliveries *Container[model.Delivery]
	// Redeliveries live in the deliveries container too (partition /id,
	// same TTL), under ids no delivery guid takes.
	Redeliveries  *Container[model.Redelivery]
	Installations *Container[model.Installation]
	Leases        *Container[model.Lease]
	// Watermarks live in the leases container (partition /id): one small
	// document per log-reading job, only ever read by id.
	Watermarks *Container[model.Watermark]
	// WriteBudgets live in the leases container too (partition /id): one
	// small document per installation, only ever read by id.
	WriteBudgets *Container[model.WriteBudget]
	// Jobs, JobParts and JobSlots share the jobs container.
	Jobs     *Container[model.ClusterJob]
	JobParts *Container[model.ClusterJobPart]
	JobSlots *Container[model.ClusterJobSlot]
	Clusters *Container[model.Cluster]

	client *azcosmos.Client
	db     *azcosmos.DatabaseClient
}

type containerSpec struct {
	name string
	pk   string
	ttl  *int32
}

func specs() []containerSpec {
	ttl := int32(DeliveriesTTL / time.Second)
	jobsTTL := int32(JobsTTL / time.Second)
	return []containerSpec{
		{model.ContainerArtifacts, "/digest", nil},
		{model.ContainerWorkloads, "/cluster", nil},
		{model.ContainerFindings, "/repository", nil},
		{model.ContainerGroups, "/repository", nil},
		{model.ContainerDeliveries, "/id", &ttl},
		{model.ContainerInstallations, "/org", nil},
		{model.ContainerLeases, "/id", nil},
		{model.ContainerJobs, "/id", &jobsTTL},
		{model.ContainerClusters, "/id", nil},
	}
}

// Open connects to Cosmos DB and, when asked, creates what is missing.
func Open(ctx context.Context, o Options) (*Store, error) {
	if o.Endpoint == "" {
		return nil, errors.New("cosmos: endpoint is empty")
	}
	if o.Database == "" {
		o.Database = "runtimelink"
	}
	opts := &azcosmos.ClientOptions{}
	opts.Retry.MaxRetries = 2
	opts.Transport = o.Transport
	if opts.Transport == nil {
		opts.Transport = HTTPClient(o.Emulator)
	}
	if o.Emulator {
		opts.PerCallPolicies = append(opts.PerCallPolicies, emulatorCompat{})
	}
	var (
		client *azcosmos.Client
		err    error
	)
	switch {
	case o.Key != "":
		cred, kerr := azcosmos.NewKeyCredential(o.Key)
		if kerr != nil {
			return nil, fmt.Errorf("cosmos: key credential: %w", kerr)
		}
		client, err = azcosmos.NewClientWithKey(o.Endpoint, cred, opts)
	case o.Credential != nil:
		client, err = azcosmos.NewClient(o.Endpoint, o.Credential, opts)
	default:
		return nil, errors.New("cosmos: neither a key nor a credential is configured")
	}
	if err != nil {
		return nil, fmt.Errorf("cosmos: client for %s: %w", o.Endpoint, err)
	}
	if o.CreateIfMissing {
		if err := create(ctx, client, o.Database); err != nil {
			return nil, err
		}
	}
	db, err := client.NewDatabase(o.Database)
	if err != nil {
		return nil, fmt.Errorf("cosmos: database %s: %w", o.Database, err)
	}
	s := &Store{client: client, db: db}
	cont := func(name string) *azcosmos.ContainerClient {
		c, cerr := db.NewContainer(name)
		if cerr != nil && err == nil {
			err = fmt.Errorf("cosmos: container %s: %w", name, cerr)
		}
		return c
	}
	s.Artifacts = newContainer(model.ContainerArtifacts, cont(model.ContainerArtifacts),
		func(d *model.Artifact) (string, string) { return d.ID, d.Digest })
	s.Workloads = newContainer(model.ContainerWorkloads, cont(model.ContainerWorkloads),
		func(d *model.Workload) (string, string) { return d.ID, d.Cluster })
	s.Findings = newContainer(model.ContainerFindings, cont(model.ContainerFindings),
		func(d *model.Finding) (string, string) { return d.ID, d.Repository })
	s.Groups = newContainer(model.ContainerGroups, cont(model.ContainerGroups),
		func(d *model.Group) (string, string) { return d.ID, d.Repository })
	s.Deliveries = newContainer(model.ContainerDeliveries, cont(model.ContainerDeliveries),
		func(d *model.Delivery) (string, string) { return d.ID, d.ID })
	s.Redeliveries = newContainer(model.ContainerDeliveries, cont(model.ContainerDeliveries),
		func(d *model.Redelivery) (string, string) { return d.ID, d.ID })
	s.Installations = newContainer(model.ContainerInstallations, cont(model.ContainerInstallations),
		func(d *model.Installation) (string, string) { return d.ID, d.Org })
	s.Leases = newContainer(model.ContainerLeases, cont(model.ContainerLeases),
		func(d *model.Lease) (string, string) { return d.ID, d.ID })
	s.WriteBudgets = newContainer(model.ContainerLeases, cont(model.ContainerLeases),
		func(d *model.WriteBudget) (string, string) { return d.ID, d.ID })
	s.Watermarks = newContainer(model.ContainerLeases, cont(model.ContainerLeases),
		func(d *model.Watermark) (string, string) { return d.ID, d.ID })
	jobs := cont(model.ContainerJobs)
	s.Jobs = newContainer(model.ContainerJobs, jobs, func(d *model.ClusterJob) (string, string) { return d.ID, d.ID })
	s.JobParts = newContainer(model.ContainerJobs, jobs, func(d *model.ClusterJobPart) (string, string) { return d.ID, d.ID })
	s.JobSlots = newContainer(model.ContainerJobs, jobs, func(d *model.ClusterJobSlot) (string, string) { return d.ID, d.ID })
	s.Clusters = newContainer(model.ContainerClusters, cont(model.ContainerClusters),
		func(d *model.Cluster) (string, string) { return d.ID, d.ID })
	if err != nil {
		return nil, err
	}
	return s, nil
}

func create(ctx context.Context, client *azcosmos.Client, database string) error {
	if _, err := client.CreateDatabase(ctx, azcosmos.DatabaseProperties{ID: database}, nil); err != nil && statusCode(err) != http.StatusConflict {
		return fmt.Errorf("cosmos: create database %s: %w", database, err)
	}
	db, err := client.NewDatabase(database)
	if err != nil {
		return fmt.Errorf("cosmos: database %s: %w", database, err)
	}
	for _, s := range specs() {
		props := azcosmos.ContainerProperties{
			ID:                     s.name,
			PartitionKeyDefinition: azcosmos.PartitionKeyDefinition{Paths: []string{s.pk}},
			DefaultTimeToLive:      s.ttl,
		}
		if _, err := db.CreateContainer(ctx, props, nil); err != nil && statusCode(err) != http.StatusConflict {
			return fmt.Errorf("cosmos: create container %s: %w", s.name, err)
		}
	}
	return nil
}

// Ping checks that the database answers (health endpoint).
func (s *Store) Ping(ctx context.Context) error {
	if _, err := s.db.Read(ctx, nil); err != nil {
		return fmt.Errorf("cosmos: read database: %w", err)
	}
	return nil
}

// DropDatabase deletes the database (tests only).
func (s *Store) DropDatabase(ctx context.Context) error {
	if _, err := s.db.Delete(ctx, nil); err != nil && statusCode(err) != http.StatusNotFound {
		return fmt.Errorf("cosmos: delete database: %w", err)
	}
	return nil
}

func statusCode(err error) int {
	var re *azcore.ResponseError
	if errors.As(err, &re) {
		return re.StatusCode
	}
	return 0
}
