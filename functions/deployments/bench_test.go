package deployments_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/runtimelink/runtimelink/shared/inventory/inventorytest"
	"github.com/runtimelink/runtimelink/shared/invocation/invocationtest"
)

// clusterBody is a cluster request of n deployments shaped like
// deployment-tracker's start-up snapshot: one image per workload, the
// "{{namespace}}/{{deploymentName}}/{{containerName}}" deployment names,
// tags and runtime risks as its metadata aggregator fills them.
func clusterBody(n int, logicalEnv string) string {
	deps := make([]trackerBaseRecord, n)
	for k := range deps {
		deps[k] = trackerBaseRecord{
			Name:           fmt.Sprintf("contoso.azurecr.io/team%d/svc%d", k%20, k),
			Digest:         fmt.Sprintf("sha256:%064x", k+1),
			Version:        "1.0." + fmt.Sprint(k),
			Status:         "deployed",
			DeploymentName: fmt.Sprintf("team%d/svc%d/app", k%20, k),
			Tags:           map[string]string{"team": fmt.Sprintf("team%d", k%20)},
		}
		if k%3 == 0 {
			deps[k].RuntimeRisks = []string{"internet-exposed"}
		}
	}
	b, _ := json.Marshal(map[string]any{
		"logical_environment": logicalEnv, "physical_environment": "westeurope",
		"partial_success": true, "deployments": deps,
	})
	return string(b)
}

// BenchmarkClusterPost1000 posts a cluster request of the largest size the
// endpoint accepts (1,000 deployments, all new, each with its own image)
// to the handler on the local Cosmos DB emulator, each iteration on a
// fresh database. ns/op is the request's time; reads, queries and writes
// are the Cosmos DB requests of one request.
func BenchmarkClusterPost1000(b *testing.B) {
	var total struct{ reads, queries, writes int64 }
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		e := newEnv(b)
		body := clusterBody(1000, "production")
		before := e.Counter.Counts()
		e.timedPost(b, cluster+"aks-bench", body, http.StatusOK)
		n := e.Counter.Counts().Sub(before)
		total.reads, total.queries, total.writes = total.reads+n.Reads, total.queries+n.Queries, total.writes+n.Writes
		b.StartTimer()
	}
	b.ReportMetric(float64(total.reads)/float64(b.N), "reads/op")
	b.ReportMetric(float64(total.queries)/float64(b.N), "queries/op")
	b.ReportMetric(float64(total.writes)/float64(b.N), "writes/op")
}

// BenchmarkClusterJobCreate1000 is deployment-tracker's start-up call with
// 1,000 deployments: POST .../jobs stores the job and queues it, and must
// answer inside the tracker's 5 s client timeout. ns/op is that answer.
func BenchmarkClusterJobCreate1000(b *testing.B) {
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		e := newEnv(b)
		body := clusterBody(1000, "production")
		e.timedPost(b, cluster+"aks-bench/jobs", body, http.StatusAccepted)
		b.StartTimer()
	}
}

// timedPost posts body to path with the deployments token, the timer
// running only while the handler serves it (it is stopped on return), and
// fails unless the answer has status want.
func (e *env) timedPost(b *testing.B, path, body string, want int) {
	b.Helper()
	req := invocationtest.ForwardedRequest(http.MethodPost, path, strings.NewReader(body), "inv-bench")
	req.Header.Set("Authorization", bearer)
	rec := httptest.NewRecorder()
	b.StartTimer()
	e.Handler.ServeHTTP(rec, req)
	b.StopTimer()
	if rec.Code != want {
		b.Fatalf("status %d %s", rec.Code, rec.Body.String()[:min(300, rec.Body.Len())])
	}
}

// TestClusterRequestCost: what a cluster request costs in Cosmos DB
// requests does not grow by a read per deployment. Its workloads and
// artifacts are read in batches and re-scored together, so 250 new
// deployments take the point reads 50 do (the job's own), a few more
// query pages (one per hundred digests or images), and a write per
// workload and artifact; posted again unchanged, they write nothing but
// the job.
func TestClusterRequestCost(t *testing.T) {
	cost := func(n int) (first, again inventorytest.Counts) {
		e := newEnv(t)
		body := clusterBody(n, "production")
		for k, out := range []*inventorytest.Counts{&first, &again} {
			before := e.Counter.Counts()
			if status, resp := e.post(t, cluster+"aks-cost", bearer, body); status != http.StatusOK || resp["total_count"] != float64(n) {
				t.Fatalf("post %d of %d deployments: %d %v", k+1, n, status, resp)
			}
			*out = e.Counter.Counts().Sub(before)
		}
		return first, again
	}
	small, smallAgain := cost(50)
	large, largeAgain := cost(250)
	t.Logf("50 deployments: %+v, again %+v; 250: %+v, again %+v", small, smallAgain, large, largeAgain)
	if large.Reads != small.Reads || largeAgain.Reads != smallAgain.Reads {
		t.Errorf("point reads grow with the request: %d for 50, %d for 250 (again: %d, %d)", small.Reads, large.Reads, smallAgain.Reads, largeAgain.Reads)
	}
	if d := large.Queries - small.Queries; d > 8 {
		t.Errorf("query pages: %d for 50, %d for 250 deployments", small.Queries, large.Queries)
	}
	if d := large.Writes - small.Writes; d != 2*200 {
		t.Errorf("writes: %d for 50, %d for 250 deployments, want a workload and an artifact each", small.Writes, large.Writes)
	}
	if largeAgain.Writes != smallAgain.Writes {
		t.Errorf("an unchanged request wrote %d (50) and %d (250) documents", smallAgain.Writes, largeAgain.Writes)
	}
}
