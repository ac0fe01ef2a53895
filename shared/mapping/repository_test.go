package mapping

import "testing"

func TestNormalizeRepository(t *testing.T) {
	tests := []struct {
		in, org, want string
	}{
		{"octo-org/checkout-api", "", "octo-org/checkout-api"},
		{"Octo-Org/Checkout-API", "", "octo-org/checkout-api"},
		{"  octo-org/checkout-api  ", "", "octo-org/checkout-api"},
		{"checkout-api", "octo-org", "octo-org/checkout-api"}, // deployment record github_repository
		{"checkout-api", "Octo-Org", "octo-org/checkout-api"},
		{"checkout-api", "", ""}, // no org to put it in
		{"checkout-api", "bad org", ""},
		{"https://github.com/octo-org/checkout-api", "", "octo-org/checkout-api"},
		{"https://github.com/octo-org/checkout-api.git", "", "octo-org/checkout-api"},
		{"https://github.com/octo-org/checkout-api.GIT", "", "octo-org/checkout-api"},
		{"https://github.com/octo-org/checkout-api/", "", "octo-org/checkout-api"},
		{"http://github.com/octo-org/checkout-api", "", "octo-org/checkout-api"},
		{"https://github.com/octo-org/checkout-api/tree/main/services/api", "", "octo-org/checkout-api"}, // OCI source label pointing deeper
		{"https://github.com/octo-org/checkout-api?tab=readme", "", "octo-org/checkout-api"},
		{"https://github.com/octo-org/checkout-api#readme", "", "octo-org/checkout-api"},
		{"https://token@github.com/octo-org/checkout-api", "", "octo-org/checkout-api"},
		{"https://github.example.com/octo-org/checkout-api", "", "octo-org/checkout-api"}, // GitHub Enterprise Server
		{"git+https://github.com/octo-org/checkout-api.git", "", "octo-org/checkout-api"},
		{"git@github.com:octo-org/checkout-api.git", "", "octo-org/checkout-api"},
		{"ssh://git@github.com/octo-org/checkout-api.git", "", "octo-org/checkout-api"},
		{"github.com/octo-org/checkout-api", "", "octo-org/checkout-api"},
		{"ghcr.io/octo-org/checkout-api", "other", "octo-org/checkout-api"},
		{"ghcr.io/octo-org/checkout-api/worker", "", "octo-org/checkout-api"},
		{"enterprise_user/repo.name_1", "", "enterprise_user/repo.name_1"}, // EMU login, dots in names
		{"octo-org/.github", "", "octo-org/.github"},
		{"", "octo-org", ""},
		{"   ", "octo-org", ""},
		{"https://github.com", "", ""},
		{"https://github.com/octo-org", "", ""},
		{"https://github.com/octo-org", "other", ""}, // a URL's lone segment is an owner, not a name
		{"ghcr.io/checkout-api", "octo-org", ""},
		{"octo-org/..", "", ""},
		{"octo org/checkout", "", ""},
		{"octo-org/check out", "", ""},
		{"octo-org/checkout$", "", ""},
		{"git@github.com", "", ""},
		{"averyveryveryveryveryveryverylongownername/x", "", ""},
	}
	for _, tc := range tests {
		if got := NormalizeRepository(tc.in, tc.org); got != tc.want {
			t.Errorf("NormalizeRepository(%q, %q) = %q, want %q", tc.in, tc.org, got, tc.want)
		}
	}
}
