package cosmos

import (
	"context"

	"github.com/Azure/azure-sdk-for-go/sdk/data/azcosmos"
)

// UpsertRaw writes body as is, past every check of this package: tests use
// it to store what an older version or another writer could have left.
func UpsertRaw[T any](ctx context.Context, c *Container[T], partitionKey string, body []byte) error {
	_, err := c.c.UpsertItem(ctx, azcosmos.NewPartitionKeyString(partitionKey), body, nil)
	return err
}
