package githubtest

import (
	"bytes"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"
)

// hostileBodies are bodies a client bug or an attacker could send; the fake
// must answer each with a 4xx (or a 2xx where GitHub accepts it), never
// panic or answer 5xx.
var hostileBodies = []string{
	"",
	"null",
	"[]",
	"[null]",
	`"a string"`,
	"123",
	"true",
	"{",
	`{"title":null,"body":null,"state":null,"labels":null,"assignees":null,"deployments":null}`,
	`{"title":1,"body":[],"state":{},"labels":"x","assignees":{},"state_reason":7,"milestone":"x"}`,
	`{"title":"t","labels":[null,1,{}],"assignees":[null,1,[]]}`,
	`{"title":"t","state":"bogus","state_reason":"bogus"}`,
	"{\"title\":\"\xff\xfe\xfd\",\"body\":\"\xc3\x28\",\"name\":\"\xed\xa0\x80\"}",
	`{"name":"n","digest":"sha256:` + strings.Repeat("a", 64) + `","status":"deployed","logical_environment":"p","deployment_name":"d","tags":[],"runtime_risks":{}}`,
	`{"logical_environment":"p","deployments":[null,1,"x",{"name":{}}],"partial_success":"yes"}`,
	`{"logical_environment":"p","deployments":{}}`,
	`{"name":"n","digest":"` + strings.Repeat("x", 1<<16) + `","registry_url":"https://` + strings.Repeat("h", 1<<16) + `"}`,
	strings.Repeat("[", 100000) + strings.Repeat("]", 100000),
	`{"title":"` + strings.Repeat("t", 9<<20) + `"}`, // beyond every body limit
}

// bodyRoutes are the endpoints that read a body, with concrete paths.
var bodyRoutes = []struct{ method, path string }{
	{"POST", "app/installations/5/access_tokens"},
	{"POST", "repos/octo-org/app/issues"},
	{"PATCH", "repos/octo-org/app/issues/1"},
	{"POST", "repos/octo-org/app/issues/1/comments"},
	{"POST", "repos/octo-org/app/issues/1/assignees"},
	{"POST", "repos/octo-org/app/labels"},
	{"POST", "orgs/octo-org/artifacts/metadata/deployment-record"},
	{"POST", "orgs/octo-org/artifacts/metadata/deployment-record/cluster/aks"},
	{"POST", "orgs/octo-org/artifacts/metadata/storage-record"},
	{"GET", "repos/octo-org/app"}, // a body where none is expected
}

// hostileServer is a fake with an installation and an issue to aim at.
func hostileServer(t testing.TB) (*Server, string, string) {
	s := New(t)
	jwt := "Bearer " + appJWT(t, s.PrivateKeyPEM, strconv.Itoa(int(s.AppID)), 9*time.Minute)
	tok := mint(t, s, 5)
	if a := sendBody(t, s, "POST", "repos/octo-org/app/issues", "token "+tok, []byte(`{"title":"target"}`)); a != http.StatusCreated {
		t.Fatalf("create the target issue: %d", a)
	}
	return s, jwt, "token " + tok
}

func TestNoPanicOnHostileBodies(t *testing.T) {
	s, jwt, tok := hostileServer(t)
	for _, rt := range bodyRoutes {
		auth := tok
		if strings.HasPrefix(rt.path, "app/") {
			auth = jwt
		}
		for i, body := range hostileBodies {
			status := sendBody(t, s, rt.method, rt.path, auth, []byte(body))
			if status >= 500 || status == 0 {
				t.Errorf("%s %s, body %d (%.40q): status %d", rt.method, rt.path, i, body, status)
			}
		}
	}
}

func FuzzBodies(f *testing.F) {
	for _, b := range hostileBodies[:len(hostileBodies)-2] { // the huge ones are slow to mutate
		f.Add(0, []byte(b))
	}
	s, jwt, tok := hostileServer(f)
	f.Fuzz(func(t *testing.T, route int, body []byte) {
		rt := bodyRoutes[uint(route)%uint(len(bodyRoutes))]
		auth := tok
		if strings.HasPrefix(rt.path, "app/") {
			auth = jwt
		}
		if status := sendBody(t, s, rt.method, rt.path, auth, body); status >= 500 || status == 0 {
			t.Errorf("%s %s %q: status %d", rt.method, rt.path, body, status)
		}
	})
}

// sendBody sends body and returns the status; 0 when the connection broke
// (a handler panic aborts it).
func sendBody(t testing.TB, s *Server, method, path, auth string, body []byte) int {
	t.Helper()
	req, err := http.NewRequest(method, s.URL+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", auth)
	req.Header.Set("Content-Type", "application/json")
	resp, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
	if err != nil {
		t.Logf("%s %s: %v", method, path, err)
		return 0
	}
	resp.Body.Close()
	return resp.StatusCode
}
