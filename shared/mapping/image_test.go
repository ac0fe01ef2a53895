package mapping

import (
	"strings"
	"testing"
)

const (
	dgst  = "sha256:5e1f2a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f7"
	dgst2 = "sha256:0a9b8c7d6e5f40312a1b0c9d8e7f6a5b4c3d2e1f00112233445566778899aabb"
)

func TestParseImageRef(t *testing.T) {
	tests := []struct {
		in   string
		want ImageRef
		name string // want.Name()
		err  string // substring of the error; "" means no error
	}{
		// Docker Hub defaults.
		{in: "nginx", want: ImageRef{Registry: "docker.io", Repository: "library/nginx"}, name: "docker.io/library/nginx"},
		{in: "nginx:1.27", want: ImageRef{Registry: "docker.io", Repository: "library/nginx", Tag: "1.27"}, name: "docker.io/library/nginx"},
		{in: "bitnami/redis:7.2", want: ImageRef{Registry: "docker.io", Repository: "bitnami/redis", Tag: "7.2"}, name: "docker.io/bitnami/redis"},
		{in: "docker.io/nginx", want: ImageRef{Registry: "docker.io", Repository: "library/nginx"}, name: "docker.io/library/nginx"},
		{in: "docker.io/library/nginx:latest", want: ImageRef{Registry: "docker.io", Repository: "library/nginx", Tag: "latest"}, name: "docker.io/library/nginx"},
		{in: "index.docker.io/nginx", want: ImageRef{Registry: "docker.io", Repository: "library/nginx"}, name: "docker.io/library/nginx"},
		{in: "index.docker.io/grafana/grafana:11.0.0", want: ImageRef{Registry: "docker.io", Repository: "grafana/grafana", Tag: "11.0.0"}, name: "docker.io/grafana/grafana"},
		{in: "registry-1.docker.io/library/alpine", want: ImageRef{Registry: "docker.io", Repository: "library/alpine"}, name: "docker.io/library/alpine"},
		{in: "Docker.IO/alpine", want: ImageRef{Registry: "docker.io", Repository: "library/alpine"}, name: "docker.io/library/alpine"},
		// Other registries.
		{in: "octoacr.azurecr.io/checkout-api", want: ImageRef{Registry: "octoacr.azurecr.io", Repository: "checkout-api"}, name: "octoacr.azurecr.io/checkout-api"},
		{in: "OctoACR.azurecr.io/checkout-api:1.4.2", want: ImageRef{Registry: "octoacr.azurecr.io", Repository: "checkout-api", Tag: "1.4.2"}, name: "octoacr.azurecr.io/checkout-api"},
		{in: "ghcr.io/octo-org/shop/checkout-api:v1", want: ImageRef{Registry: "ghcr.io", Repository: "octo-org/shop/checkout-api", Tag: "v1"}, name: "ghcr.io/octo-org/shop/checkout-api"},
		{in: "mcr.microsoft.com/dotnet/aspnet:8.0-alpine", want: ImageRef{Registry: "mcr.microsoft.com", Repository: "dotnet/aspnet", Tag: "8.0-alpine"}, name: "mcr.microsoft.com/dotnet/aspnet"},
		{in: "localhost/app", want: ImageRef{Registry: "localhost", Repository: "app"}, name: "localhost/app"},
		{in: "localhost:5000/x", want: ImageRef{Registry: "localhost:5000", Repository: "x"}, name: "localhost:5000/x"},
		{in: "localhost:5000/team/x:dev", want: ImageRef{Registry: "localhost:5000", Repository: "team/x", Tag: "dev"}, name: "localhost:5000/team/x"},
		{in: "registry.example.com:443/a/b@" + dgst, want: ImageRef{Registry: "registry.example.com:443", Repository: "a/b", Digest: dgst}, name: "registry.example.com:443/a/b"},
		{in: "[::1]:5000/app:1", want: ImageRef{Registry: "[::1]:5000", Repository: "app", Tag: "1"}, name: "[::1]:5000/app"},
		{in: "octoacr.azurecr.io", want: ImageRef{Registry: "docker.io", Repository: "library/octoacr.azurecr.io"}, name: "docker.io/library/octoacr.azurecr.io"}, // as docker reads it
		// Tag and digest.
		{in: "octoacr.azurecr.io/checkout-api@" + dgst, want: ImageRef{Registry: "octoacr.azurecr.io", Repository: "checkout-api", Digest: dgst}, name: "octoacr.azurecr.io/checkout-api"},
		{in: "octoacr.azurecr.io/checkout-api:1.4.2@" + dgst, want: ImageRef{Registry: "octoacr.azurecr.io", Repository: "checkout-api", Tag: "1.4.2", Digest: dgst}, name: "octoacr.azurecr.io/checkout-api"},
		{in: "nginx@" + dgst2, want: ImageRef{Registry: "docker.io", Repository: "library/nginx", Digest: dgst2}, name: "docker.io/library/nginx"},
		{in: "  nginx:Stable_1.x-rc  ", want: ImageRef{Registry: "docker.io", Repository: "library/nginx", Tag: "Stable_1.x-rc"}, name: "docker.io/library/nginx"},
		{in: "a.b/c__d/e--f/g.h/i_j", want: ImageRef{Registry: "a.b", Repository: "c__d/e--f/g.h/i_j"}, name: "a.b/c__d/e--f/g.h/i_j"},
		// Errors.
		{in: "", err: "empty"},
		{in: "   ", err: "empty"},
		{in: "https://octoacr.azurecr.io/app", err: "no scheme"},
		{in: "octoacr.azurecr.io/Checkout-API", err: "must be lower case"},
		{in: "nginx@sha256:abc", err: "64 hex digits"},
		{in: "nginx@sha512:" + strings.Repeat("a", 128), err: `unsupported algorithm "sha512"`},
		{in: "nginx@" + strings.ToUpper(dgst[:7]) + dgst[7:], err: "unsupported algorithm"},
		{in: "nginx@sha256:" + strings.ToUpper(dgst[7:]), err: "lower-case hex"},
		{in: "nginx@" + dgst[7:], err: "want sha256:"},
		{in: "nginx:", err: "invalid tag"},
		{in: "nginx:-dev", err: "invalid tag"},
		{in: "nginx:" + strings.Repeat("t", 129), err: "invalid tag"},
		{in: "octoacr.azurecr.io/", err: "no repository"},
		{in: "Registry/app", err: "must be lower case"}, // no host-by-case guessing: "registry/app" would be Docker Hub
		{in: "a.b/c//d", err: `invalid repository component ""`},
		{in: "a.b/-c", err: "invalid repository component"},
		{in: "a.b/c.", err: "invalid repository component"},
		{in: "a.b/c___d", err: "invalid repository component"},
		{in: "a.b/c-.d", err: "invalid repository component"},
		{in: "a.b/c d", err: "invalid repository component"},
		{in: "bad_host.io/app", err: "invalid registry host"},
		{in: "host:port/app", err: "invalid registry host"},
		{in: "host:/app", err: "invalid registry host"},
		{in: "[::1/app", err: "invalid registry host"},
		{in: "a.b/" + strings.Repeat("x", 260), err: "longer than 255"},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got, err := ParseImageRef(tc.in)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("ParseImageRef(%q) = %+v, %v; want error containing %q", tc.in, got, err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseImageRef(%q): %v", tc.in, err)
			}
			if got != tc.want {
				t.Errorf("ParseImageRef(%q) = %+v, want %+v", tc.in, got, tc.want)
			}
			if got.Name() != tc.name {
				t.Errorf("Name() = %q, want %q", got.Name(), tc.name)
			}
			// The normal form parses to itself.
			again, err := ParseImageRef(got.String())
			if err != nil || again != got {
				t.Errorf("ParseImageRef(String() = %q) = %+v, %v; want %+v", got.String(), again, err, got)
			}
		})
	}
}

func TestNormalizeImage(t *testing.T) {
	for in, want := range map[string]string{
		"octoacr.azurecr.io/checkout-api:1.4.2": "octoacr.azurecr.io/checkout-api",
		"nginx@" + dgst:                         "docker.io/library/nginx",
	} {
		if got, err := NormalizeImage(in); err != nil || got != want {
			t.Errorf("NormalizeImage(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := NormalizeImage("UPPER/Case"); err == nil {
		t.Error("NormalizeImage accepted an invalid reference")
	}
}

func TestImageRefString(t *testing.T) {
	r := ImageRef{Registry: "octoacr.azurecr.io", Repository: "checkout-api", Tag: "1.4.2", Digest: dgst}
	if got, want := r.String(), "octoacr.azurecr.io/checkout-api:1.4.2@"+dgst; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
}
