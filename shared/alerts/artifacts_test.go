package alerts

import (
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/runtimelink/runtimelink/shared/model"
)

const helloDigest = "sha256:3da1996a8115d7616457760d9920b815241d0a03b34cf5f04e9a0e9d8de37498"

func decodeArtifact(event string, b []byte) (PublishedImage, error) {
	if event == EventPackage {
		return DecodePackage(b, received)
	}
	return DecodeRegistryPackage(b, received)
}

// TestPackageSamples decodes every registry_package and package payload.
func TestPackageSamples(t *testing.T) {
	want := map[string]PublishedImage{
		"registry_package/published.docker.json": {
			Event: EventRegistryPackage, Action: "published",
			Repository: "Codertocat/hello-world-npm", Registry: "ghcr.io", Image: "ghcr.io/codertocat/hello-world",
			Digest: helloDigest,
			// target_oid repeats the digest here, so the commit is the OCI revision label
			Commit: "6c62fb45fe66bfb1ea9a66abc38f6a0cc974292b", SourceRepository: "Codertocat/hello-world",
			URL: "https://github.com/orgs/Codertocat/packages/container/hello-world/57755791",
			At:  received, // the version's times are GitHub's zero time
		},
		"package/published.docker.json": {
			Event: EventPackage, Action: "published",
			Repository: "Codertocat/hello-world-npm", Registry: "ghcr.io", Image: "ghcr.io/codertocat/hello-world",
			Digest: helloDigest, Commit: "6c62fb45fe66bfb1ea9a66abc38f6a0cc974292b", SourceRepository: "Codertocat/hello-world",
			URL: "https://github.com/Codertocat/container/hello-world/10696", At: received,
		},
	}
	files := samplesOf(t, EventRegistryPackage, EventPackage)
	for _, rel := range files {
		t.Run(rel, func(t *testing.T) {
			w, ok := want[rel]
			if !ok {
				t.Fatalf("no expected result for %s: add one", rel)
			}
			got, err := decodeArtifact(strings.Split(rel, "/")[0], sample(t, rel))
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, w) {
				t.Errorf("got\n%s\nwant\n%s", jsonOf(t, got), jsonOf(t, w))
			}
			ev, ok := got.Evidence("delivery-1")
			wantEv := model.Evidence{Kind: model.EvidenceGitHubPackage, Repository: w.Repository, Commit: w.Commit, Ref: "delivery-1", At: received}
			if !ok || ev != wantEv {
				t.Errorf("Evidence = %+v, %v; want %+v", ev, ok, wantEv)
			}
		})
	}
	if len(files) != len(want) {
		t.Errorf("%d samples, %d expected results", len(files), len(want))
	}
}

func TestPackageVariants(t *testing.T) {
	const rel = "registry_package/published.docker.json"
	pkg := func(m map[string]any) map[string]any { return obj(m, "registry_package") }
	ver := func(m map[string]any) map[string]any { return obj(m, "registry_package", "package_version") }
	cm := func(m map[string]any) map[string]any {
		return obj(m, "registry_package", "package_version", "container_metadata")
	}
	cases := []struct {
		name    string
		event   string
		edit    func(m map[string]any)
		wantErr error
		check   func(t *testing.T, p PublishedImage)
	}{
		{name: "not a container", edit: func(m map[string]any) {
			pkg(m)["ecosystem"] = "npm"
			pkg(m)["package_type"] = "npm"
			obj(m, "registry_package", "registry")["type"] = "npm"
		}, wantErr: ErrNotContainer},
		{name: "package_type CONTAINER as GHCR sends it", edit: func(m map[string]any) {
			pkg(m)["ecosystem"] = "CONTAINER"
			pkg(m)["package_type"] = "CONTAINER"
		}, check: func(t *testing.T, p PublishedImage) { expect(t, "digest", p.Digest, helloDigest) }},
		{name: "tags from the tag and from metadata", edit: func(m map[string]any) {
			obj(m, "registry_package", "package_version", "container_metadata", "tag")["name"] = "v1.2.3"
			ver(m)["metadata"] = map[string]any{"container": map[string]any{"tags": []any{"latest", "v1.2.3"}}}
		}, check: func(t *testing.T, p PublishedImage) {
			if want := []string{"latest", "v1.2.3"}; !reflect.DeepEqual(p.Tags, want) {
				t.Errorf("tags = %q, want %q", p.Tags, want)
			}
		}},
		{name: "package_url with a tag", edit: func(m map[string]any) { ver(m)["package_url"] = "ghcr.io/Octo-Org/Web-App:2.0" },
			check: func(t *testing.T, p PublishedImage) {
				expect(t, "image", p.Image, "ghcr.io/octo-org/web-app")
				expect(t, "tags", strings.Join(p.Tags, ","), "2.0")
			}},
		{name: "package_url with a digest", edit: func(m map[string]any) { ver(m)["package_url"] = "ghcr.io/octo-org/web-app@" + helloDigest },
			check: func(t *testing.T, p PublishedImage) {
				expect(t, "image", p.Image, "ghcr.io/octo-org/web-app")
				expect(t, "tags", len(p.Tags), 0)
			}},
		{name: "no package_url: namespace, name and ghcr.io", edit: func(m map[string]any) {
			delete(ver(m), "package_url")
			pkg(m)["namespace"] = "noahvdaa"
			pkg(m)["name"] = "repositoryname/frontend"
			obj(m, "registry_package", "registry")["url"] = "https://CONTAINER.pkg.github.com/noahvdaa"
		}, check: func(t *testing.T, p PublishedImage) {
			expect(t, "image", p.Image, "ghcr.io/noahvdaa/repositoryname/frontend")
			expect(t, "registry", p.Registry, "ghcr.io")
		}},
		{name: "package_url without a registry host falls back", edit: func(m map[string]any) {
			ver(m)["package_url"] = "codertocat/hello-world:latest"
		}, check: func(t *testing.T, p PublishedImage) {
			expect(t, "image", p.Image, "ghcr.io/codertocat/hello-world-npm")
		}},
		{name: "digest only in the container metadata, upper case", edit: func(m map[string]any) {
			ver(m)["name"] = "hello-world"
			ver(m)["version"] = "latest"
			obj(m, "registry_package", "package_version", "container_metadata", "tag")["digest"] = strings.ToUpper(helloDigest[:7]) + strings.ToUpper(helloDigest[7:])
		}, check: func(t *testing.T, p PublishedImage) { expect(t, "digest", p.Digest, helloDigest) }},
		{name: "no valid digest anywhere", edit: func(m map[string]any) {
			ver(m)["name"] = "hello-world"
			ver(m)["version"] = "latest"
			cm(m)["tag"] = nil
			cm(m)["manifest"] = nil
		}, wantErr: ErrMalformed},
		{name: "revision label that is not a commit: target_oid", edit: func(m map[string]any) {
			obj(m, "registry_package", "package_version", "container_metadata", "labels")["all_labels"] = map[string]any{"org.opencontainers.image.revision": "main"}
			ver(m)["target_oid"] = "0123456789abcdef0123456789abcdef01234567"
		}, check: func(t *testing.T, p PublishedImage) {
			expect(t, "commit", p.Commit, "0123456789abcdef0123456789abcdef01234567")
		}},
		{name: "no container metadata at all", edit: func(m map[string]any) { ver(m)["container_metadata"] = nil },
			check: func(t *testing.T, p PublishedImage) {
				expect(t, "digest", p.Digest, helloDigest)
				expect(t, "commit", p.Commit, "")
				expect(t, "source", p.SourceRepository, "")
			}},
		{name: "version times are the evidence time", edit: func(m map[string]any) {
			ver(m)["created_at"] = "2024-01-02T03:04:05Z"
			ver(m)["updated_at"] = "2024-01-02T03:05:00Z"
		}, check: func(t *testing.T, p PublishedImage) { expect(t, "at", p.At, ts("2024-01-02T03:05:00Z")) }},
		{name: "not linked to a repository", edit: func(m map[string]any) { delete(m, "repository") },
			check: func(t *testing.T, p PublishedImage) {
				expect(t, "repository", p.Repository, "")
				if _, ok := p.Evidence("d"); ok {
					t.Error("evidence without a repository")
				}
			}},
		{name: "updated action", edit: func(m map[string]any) { m["action"] = "updated" },
			check: func(t *testing.T, p PublishedImage) { expect(t, "action", p.Action, "updated") }},
		{name: "unknown action", edit: func(m map[string]any) { m["action"] = "deleted" }, wantErr: ErrUnknownAction},
		{name: "package object missing", edit: func(m map[string]any) { delete(m, "registry_package") }, wantErr: ErrMalformed},
		{name: "package_version null", edit: func(m map[string]any) { pkg(m)["package_version"] = nil }, wantErr: ErrMalformed},
		{name: "package event reads the package object", event: EventPackage, edit: func(m map[string]any) {
			m["package"] = m["registry_package"]
			delete(m, "registry_package")
		}, check: func(t *testing.T, p PublishedImage) { expect(t, "event", p.Event, EventPackage) }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			event := tc.event
			if event == "" {
				event = EventRegistryPackage
			}
			p, err := decodeArtifact(event, variant(t, rel, tc.edit))
			if !decoded(t, err, tc.wantErr) {
				return
			}
			if !ValidDigest(p.Digest) {
				t.Errorf("digest %q is not valid", p.Digest)
			}
			tc.check(t, p)
		})
	}
}

func TestWorkflowRunSamples(t *testing.T) {
	want := map[string]WorkflowRun{
		"workflow_run/completed.json": {
			Action: "completed", Repository: "octo-org/octo-repo", HeadRepository: "octo-org/octo-repo",
			HeadSHA: "3484a3fb816e0859fd6e1cea078d76385ff50625", HeadBranch: "master",
			Workflow: "test", WorkflowPath: ".github/workflows/test.yml", // workflow_run.name is "": the workflow's name
			RunID: 289782451, RunNumber: 163, RunAttempt: 1, TriggerEvent: "repository_dispatch",
			Status: "completed", Conclusion: "success", URL: "https://github.com/octo-org/octo-repo/actions/runs/289782451",
			At: ts("2020-10-05T16:33:49Z"),
		},
	}
	files := samplesOf(t, EventWorkflowRun)
	for _, rel := range files {
		t.Run(rel, func(t *testing.T) {
			w, ok := want[rel]
			if !ok {
				t.Fatalf("no expected result for %s", rel)
			}
			got, err := DecodeWorkflowRun(sample(t, rel), received)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, w) {
				t.Errorf("got\n%s\nwant\n%s", jsonOf(t, got), jsonOf(t, w))
			}
			if !got.Succeeded() {
				t.Error("a completed successful run does not report success")
			}
			wantEv := model.Evidence{Kind: model.EvidenceGitHubPackage, Repository: "octo-org/octo-repo", Commit: w.HeadSHA, Workflow: ".github/workflows/test.yml", RunID: 289782451, Ref: "d-1", At: w.At}
			if ev := got.Evidence("d-1"); ev != wantEv {
				t.Errorf("Evidence = %+v, want %+v", ev, wantEv)
			}
		})
	}
	if len(files) != len(want) {
		t.Errorf("%d samples, %d expected results", len(files), len(want))
	}
}

func TestWorkflowRunVariants(t *testing.T) {
	const rel = "workflow_run/completed.json"
	run := func(m map[string]any) map[string]any { return obj(m, "workflow_run") }
	cases := []struct {
		name    string
		edit    func(m map[string]any)
		wantErr error
		check   func(t *testing.T, w WorkflowRun)
	}{
		{name: "in progress has no conclusion", edit: func(m map[string]any) {
			m["action"] = "in_progress"
			run(m)["status"] = "in_progress"
			run(m)["conclusion"] = nil
		}, check: func(t *testing.T, w WorkflowRun) {
			expect(t, "conclusion", w.Conclusion, "")
			expect(t, "succeeded", w.Succeeded(), false)
		}},
		{name: "failed run", edit: func(m map[string]any) { run(m)["conclusion"] = "failure" },
			check: func(t *testing.T, w WorkflowRun) { expect(t, "succeeded", w.Succeeded(), false) }},
		{name: "the run's own name wins", edit: func(m map[string]any) { run(m)["name"] = "Build and publish" },
			check: func(t *testing.T, w WorkflowRun) { expect(t, "workflow", w.Workflow, "Build and publish") }},
		{name: "no workflow object", edit: func(m map[string]any) { delete(m, "workflow") },
			check: func(t *testing.T, w WorkflowRun) {
				expect(t, "workflow", w.Workflow, "")
				expect(t, "path", w.WorkflowPath, ".github/workflows/test.yml") // workflow_run.path
			}},
		{name: "no updated_at: received", edit: func(m map[string]any) { run(m)["updated_at"] = nil },
			check: func(t *testing.T, w WorkflowRun) { expect(t, "at", w.At, received) }},
		{name: "repository only inside the run", edit: func(m map[string]any) { delete(m, "repository") },
			check: func(t *testing.T, w WorkflowRun) { expect(t, "repository", w.Repository, "octo-org/octo-repo") }},
		{name: "head_sha missing", edit: func(m map[string]any) { delete(run(m), "head_sha") }, wantErr: ErrMalformed},
		{name: "head_sha not a commit", edit: func(m map[string]any) { run(m)["head_sha"] = "master" }, wantErr: ErrMalformed},
		{name: "run id missing", edit: func(m map[string]any) { delete(run(m), "id") }, wantErr: ErrMalformed},
		{name: "workflow_run null", edit: func(m map[string]any) { m["workflow_run"] = nil }, wantErr: ErrMalformed},
		{name: "unknown action", edit: func(m map[string]any) { m["action"] = "exploded" }, wantErr: ErrUnknownAction},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			w, err := DecodeWorkflowRun(variant(t, rel, tc.edit), received)
			if !decoded(t, err, tc.wantErr) {
				return
			}
			tc.check(t, w)
		})
	}
}

func TestValidDigest(t *testing.T) {
	for s, want := range map[string]bool{
		helloDigest: true,
		"sha256:6c62fb45fe66bfb1ea9a66abc38f6a0cc974292b": false, // 40 hex: the sample's malformed manifest digest
		strings.ToUpper(helloDigest):                      false,
		"sha512:" + strings.Repeat("a", 64):               false,
		"":                                                false,
	} {
		if got := ValidDigest(s); got != want {
			t.Errorf("ValidDigest(%q) = %v, want %v", s, got, want)
		}
	}
}

// received must be a UTC instant without a monotonic reading, or equal
// instants would compare unequal after a store round trip.
func TestReceivedIsNormalised(t *testing.T) {
	local := time.Now().In(time.FixedZone("X", 3600))
	w, err := DecodeWorkflowRun(variant(t, "workflow_run/completed.json", func(m map[string]any) { obj(m, "workflow_run")["updated_at"] = nil }), local)
	if err != nil {
		t.Fatal(err)
	}
	if w.At.Location() != time.UTC || w.At != local.UTC().Round(0) {
		t.Errorf("At = %v (%v), want the UTC instant without monotonic clock", w.At, w.At.Location())
	}
}
