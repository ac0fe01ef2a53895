// Package queue puts work on the Storage queue that drives the sync
// function. Messages are base64-encoded, the Functions host's default
// queue message encoding, so the queue trigger can decode them.
package queue

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azqueue"
)

// SyncQueue is the name of the queue the sync function reads.
const SyncQueue = "sync"

// Kinds of sync work.
const (
	KindGroup      = "group"       // reconcile one finding group's GitHub issue / Defender assignment
	KindDeployment = "deployment"  // push one workload's deployment record to GitHub
	KindStorage    = "storage"     // push one artifact's storage record to GitHub
	KindBackfill   = "backfill"    // load an org's existing GHAS alerts (new installation or on demand)
	KindClusterJob = "cluster-job" // run one async cluster deployment-record job (its status lives in Cosmos DB)
	KindCampaigns  = "campaigns"   // keep every org's security campaign current (nightly, RUNTIMELINK_CAMPAIGNS)
)

// SyncRequest names one thing whose GitHub/Defender state must be
// reconciled. The sync step is level-triggered: it reads the current state,
// so a duplicate or stale request is harmless.
type SyncRequest struct {
	Kind       string `json:"kind"`
	Repository string `json:"repository,omitempty"`
	GroupID    string `json:"groupId,omitempty"`
	Org        string `json:"org,omitempty"`
	Digest     string `json:"digest,omitempty"`
	Cluster    string `json:"cluster,omitempty"`
	WorkloadID string `json:"workloadId,omitempty"`
	JobID      int64  `json:"jobId,omitempty"`
}

// Sync enqueues sync requests.
type Sync interface {
	EnqueueSync(ctx context.Context, r SyncRequest) error
}

// GroupSyncs enqueues the sync of finding groups on a Sync: the sync
// queue as the domain sees it (triage.SyncQueue).
type GroupSyncs struct{ Sync Sync }

// EnqueueGroupSync asks for one group's GitHub issue to be reconciled.
func (g GroupSyncs) EnqueueGroupSync(ctx context.Context, repository, groupID string) error {
	return g.Sync.EnqueueSync(ctx, SyncRequest{Kind: KindGroup, Repository: repository, GroupID: groupID})
}

// Client is a Storage queue client for the sync queue.
type Client struct {
	q *azqueue.QueueClient
}

// Options configure New: a connection string (local, Azurite) or a queue
// service URL with a credential (managed identity in Azure).
type Options struct {
	ConnectionString string
	ServiceURL       string
	Credential       azcore.TokenCredential
	Queue            string // default SyncQueue
}

// New returns a client for the queue.
func New(o Options) (*Client, error) {
	name := o.Queue
	if name == "" {
		name = SyncQueue
	}
	var (
		q   *azqueue.QueueClient
		err error
	)
	switch {
	case o.ConnectionString != "":
		q, err = azqueue.NewQueueClientFromConnectionString(expandDevelopmentStorage(o.ConnectionString), name, nil)
	case o.ServiceURL != "" && o.Credential != nil:
		var svc *azqueue.ServiceClient
		svc, err = azqueue.NewServiceClient(o.ServiceURL, o.Credential, nil)
		if err == nil {
			q = svc.NewQueueClient(name)
		}
	default:
		return nil, errors.New("queue: neither a connection string nor a service URL with a credential is configured")
	}
	if err != nil {
		// The connection string holds the account key: never echo it.
		return nil, fmt.Errorf("queue: client for %q: invalid connection settings", name)
	}
	return &Client{q: q}, nil
}

// CreateIfMissing creates the queue (local runs and tests; in Azure
// Terraform creates it).
func (c *Client) CreateIfMissing(ctx context.Context) error {
	if _, err := c.q.Create(ctx, nil); err != nil && !isStatus(err, http.StatusConflict) {
		return fmt.Errorf("create queue: %w", err)
	}
	return nil
}

// Ping checks that the queue answers (health endpoint).
func (c *Client) Ping(ctx context.Context) error {
	if _, err := c.q.GetProperties(ctx, nil); err != nil {
		return fmt.Errorf("queue properties: %w", err)
	}
	return nil
}

// EnqueueSync puts one request on the queue.
func (c *Client) EnqueueSync(ctx context.Context, r SyncRequest) error {
	body, err := Encode(r)
	if err != nil {
		return err
	}
	if _, err := c.q.EnqueueMessage(ctx, body, nil); err != nil {
		return fmt.Errorf("enqueue sync %s %s: %w", r.Kind, r.key(), err)
	}
	return nil
}

// Delayed enqueues a request that becomes visible only after a delay: a
// sync that GitHub (or the write budget) asked to wait.
type Delayed interface {
	EnqueueSyncAfter(ctx context.Context, r SyncRequest, delay time.Duration) error
}

// MaxDelay is the longest visibility delay used: Azure Storage queues take
// up to 7 days, and the delay must stay under the message's time to live.
const MaxDelay = 6 * 24 * time.Hour

// EnqueueSyncAfter puts one request on the queue, invisible for delay
// (rounded up to whole seconds, at most MaxDelay).
func (c *Client) EnqueueSyncAfter(ctx context.Context, r SyncRequest, delay time.Duration) error {
	body, err := Encode(r)
	if err != nil {
		return err
	}
	secs := int32(min(MaxDelay, max(delay, 0)+time.Second-1) / time.Second)
	if _, err := c.q.EnqueueMessage(ctx, body, &azqueue.EnqueueMessageOptions{VisibilityTimeout: &secs}); err != nil {
		return fmt.Errorf("enqueue sync %s %s after %s: %w", r.Kind, r.key(), delay, err)
	}
	return nil
}

// Encode is the wire form of a request: base64 of its JSON.
func Encode(r SyncRequest) (string, error) {
	b, err := json.Marshal(r)
	if err != nil {
		return "", fmt.Errorf("encode sync request: %w", err)
	}
	return base64.StdEncoding.EncodeToString(b), nil
}

// Decode reads a request from a queue trigger's message body, which the
// host has already base64-decoded.
func Decode(body []byte) (SyncRequest, error) {
	var r SyncRequest
	if err := json.Unmarshal(body, &r); err != nil {
		return r, fmt.Errorf("decode sync request: %w", err)
	}
	switch r.Kind {
	case KindGroup, KindDeployment, KindStorage, KindBackfill, KindClusterJob, KindCampaigns:
	default:
		return r, fmt.Errorf("decode sync request: unknown kind %q", r.Kind)
	}
	return r, nil
}

func (r SyncRequest) key() string {
	switch r.Kind {
	case KindGroup:
		return r.GroupID
	case KindDeployment:
		return r.WorkloadID
	case KindBackfill:
		return r.Org
	case KindClusterJob:
		return fmt.Sprint(r.JobID)
	default:
		return r.Digest
	}
}

// DevelopmentStorage is Azurite's connection string on its default ports,
// what the Functions tooling means by "UseDevelopmentStorage=true". The
// account key is the emulator's published, well-known key.
const DevelopmentStorage = "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;" +
	"AccountKey=Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==;" +
	"QueueEndpoint=http://127.0.0.1:10001/devstoreaccount1;"

func expandDevelopmentStorage(cs string) string {
	if strings.EqualFold(strings.TrimSuffix(strings.TrimSpace(cs), ";"), "UseDevelopmentStorage=true") {
		return DevelopmentStorage
	}
	return cs
}

func isStatus(err error, code int) bool {
	var re *azcore.ResponseError
	return errors.As(err, &re) && re.StatusCode == code
}
