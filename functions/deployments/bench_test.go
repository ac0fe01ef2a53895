package deployments_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

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
