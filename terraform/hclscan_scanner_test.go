package terraform_test

import (
	"slices"
	"testing"
)

// The scanner decides what the settings test sees; check it on the shapes
// that would fool a line-based grep.
func TestObjectKeysOfLocal(t *testing.T) {
	tests := []struct {
		name    string
		src     string
		want    []string
		wantErr bool
	}{
		{
			name: "merge with a reference first",
			src: `locals {
  app_settings = merge(var.extra, {
    A = "x"
    B = var.b
  })
  other = { C = 1 }
}`,
			want: []string{"A", "B"},
		},
		{
			name: "comments and commented-out keys",
			src: `locals {
  # app_settings = { WRONG = 1 }
  app_settings = {
    // D = "commented"
    /* E = "block comment" */
    F = "x" # G = 1
  }
}`,
			want: []string{"F"},
		},
		{
			name: "interpolation with quotes and braces, quoted key",
			src: `locals {
  app_settings = {
    H = "${join(",", [for s in var.x : "/subscriptions/${s}"])} = {"
    "I" = "}"
  }
}`,
			want: []string{"H", "I"},
		},
		{
			name: "heredoc and nested object do not add keys",
			src: `locals {
  app_settings = {
    J = <<-EOT
      K = "inside heredoc"
    EOT
    L = { M = 1 }
  }
  next = 1
}`,
			want: []string{"J", "L"},
		},
		{
			name:    "duplicate key",
			src:     "locals {\n  app_settings = {\n    N = 1\n    N = 2\n  }\n}",
			wantErr: true,
		},
		{
			name:    "unterminated string",
			src:     "locals {\n  app_settings = { O = \"x }\n}",
			wantErr: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			toks, err := scanHCL("test.tf", tt.src)
			var keys []string
			if err == nil {
				var expr []token
				expr, err = localExpr(tfFile{name: "test.tf", toks: toks}, "app_settings")
				if err == nil {
					_, keys, err = objectKeys(expr)
				}
			}
			if tt.wantErr {
				if err == nil {
					t.Fatalf("want an error, got keys %v", keys)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(keys, tt.want) {
				t.Errorf("keys = %v, want %v", keys, tt.want)
			}
		})
	}
}

func TestListStringsAndArguments(t *testing.T) {
	toks, err := scanHCL("test.tf", `locals {
  names = ["a", "b",
    "c"]
}
resource "x" "y" {
  use_it = true
  block {
    inner = false
  }
}`)
	if err != nil {
		t.Fatal(err)
	}
	f := tfFile{name: "test.tf", toks: toks}
	expr, err := localExpr(f, "names")
	if err != nil {
		t.Fatal(err)
	}
	got, err := listStrings(expr)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"a", "b", "c"}; !slices.Equal(got, want) {
		t.Errorf("names = %v, want %v", got, want)
	}
	args := arguments(f)
	if v := args["use_it"]; len(v) != 1 || !v[0][0].is(tokIdent, "true") {
		t.Errorf("use_it = %v, want true", v)
	}
	if v := args["inner"]; len(v) != 1 || !v[0][0].is(tokIdent, "false") {
		t.Errorf("inner = %v, want false", v)
	}
}
