package artifactsync

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"

	gh "github.com/google/go-github/v62/github"

	"github.com/runtimelink/runtimelink/shared/deployrecord"
	"github.com/runtimelink/runtimelink/shared/github"
)

// Clients gives the client of the App's installation in an org; the error
// wraps ErrNotInstalled when there is none (*github.Installations, the
// app's one resolver).
type Clients interface {
	Client(ctx context.Context, org string) (*gh.Client, error)
}

// AppGitHub is GitHub as the App's installation in each org sees it:
// clients from the app's installation resolver, attestations through
// github.Attestations. go-github v62 has no artifact-metadata methods; the
// records go through NewRequest and Do.
type AppGitHub struct {
	Clients    Clients
	Provenance *github.Attestations
}

func (g *AppGitHub) client(ctx context.Context, org string) (*gh.Client, error) {
	return g.Clients.Client(ctx, org)
}

// PostDeploymentRecord sends one deployment record.
func (g *AppGitHub) PostDeploymentRecord(ctx context.Context, org string, rec deployrecord.DeploymentRecord) error {
	return g.post(ctx, org, "deployment-record", rec)
}

// PostStorageRecord sends one storage record.
func (g *AppGitHub) PostStorageRecord(ctx context.Context, org string, rec deployrecord.StorageRecord) error {
	return g.post(ctx, org, "storage-record", rec)
}

func (g *AppGitHub) post(ctx context.Context, org, kind string, body any) error {
	c, err := g.client(ctx, org)
	if err != nil {
		return err
	}
	path := "orgs/" + url.PathEscape(org) + "/artifacts/metadata/" + kind
	req, err := c.NewRequest(http.MethodPost, path, body)
	if err != nil {
		return fmt.Errorf("POST /%s: %w", path, err)
	}
	_, err = c.Do(ctx, req, nil)
	var er *gh.ErrorResponse
	if errors.As(err, &er) && er.Response != nil {
		switch er.Response.StatusCode {
		case http.StatusNotFound, http.StatusUnprocessableEntity:
			return fmt.Errorf("%w: POST /%s: %d %s", ErrRejected, path, er.Response.StatusCode, er.Message)
		}
	}
	if err != nil {
		return fmt.Errorf("POST /%s: %w", path, err)
	}
	return nil
}

// Attestations looks up the provenance attested for digest in org.
func (g *AppGitHub) Attestations(ctx context.Context, org, digest string) ([]Provenance, error) {
	c, err := g.client(ctx, org)
	if err != nil {
		return nil, err
	}
	ps, err := g.Provenance.Provenance(ctx, c, org, digest)
	if err != nil {
		return nil, err
	}
	out := make([]Provenance, 0, len(ps))
	for _, p := range ps {
		ref := p.BundleURL
		if ref == "" {
			ref = "attestation:repository-id:" + strconv.FormatInt(p.RepositoryID, 10)
		}
		out = append(out, Provenance{Repository: p.Repository, Commit: p.Commit, Workflow: p.Workflow, RunID: p.RunID, Ref: ref})
	}
	return out, nil
}
