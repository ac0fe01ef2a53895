package inventory

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/runtimelink/runtimelink/shared/model"
)

// SnapshotRound is how long the records of one weekly Defender snapshot
// take to arrive. Continuous export sends a snapshot of the current state
// of every exported assessment once a week per subscription (records with
// isSnapshot); it carries no snapshot id and no end marker, so a snapshot
// record more than SnapshotRound after the round's first one starts the
// next round, and a round is taken as complete SnapshotRound after it
// started.
const SnapshotRound = 24 * time.Hour

// noteReport notes on a cluster's document that an assessment record was
// read: a snapshot record starts the cluster's round when none is under
// way, and an assessment giving risk (has) is reported in that round (no
// write per record of a round) or, streaming, at now.
func noteReport(c *model.Cluster, source string, has, snapshot bool, now time.Time) {
	if snapshot && (c.SnapshotStart.IsZero() || now.Sub(c.SnapshotStart) > SnapshotRound) {
		c.SnapshotStart = now // once per cluster and week
	}
	if !has {
		delete(c.Reported, source)
	} else {
		seen := now
		if snapshot {
			seen = c.SnapshotStart
		}
		if c.Reported == nil {
			c.Reported = map[string]time.Time{}
		}
		if seen.After(c.Reported[source]) {
			c.Reported[source] = seen
		}
	}
	if len(c.Reported) == 0 {
		c.Reported = nil
	}
}

// ExpireSnapshotRisks drops the risk factors of every assessment that the
// latest complete snapshot of its cluster's subscription left out: a
// snapshot re-reports every current assessment, so one not re-reported
// since the round began no longer says so. Subscriptions whose export
// sends no snapshots keep their risks until the assessment turns Healthy
// or is deleted. It returns how many assessments' risks it dropped; the
// clusters' workloads and findings are re-scored through the observer.
func (i *Inventory) ExpireSnapshotRisks(ctx context.Context) (int, error) {
	if i.Clusters == nil {
		return 0, nil
	}
	cs, err := i.Clusters.Clusters(ctx)
	if err != nil {
		return 0, err
	}
	// The round of a subscription is the latest any of its clusters saw:
	// a snapshot may name none of one cluster's assessments at all.
	rounds := map[string]time.Time{}
	for _, c := range cs {
		if s := subscriptionOf(c.ResourceID); c.SnapshotStart.After(rounds[s]) {
			rounds[s] = c.SnapshotStart
		}
	}
	now, n := i.now(), 0
	for _, c := range cs {
		round := rounds[subscriptionOf(c.ResourceID)]
		if round.IsZero() || now.Sub(round) <= SnapshotRound {
			continue // no snapshot seen, or the current one still arriving
		}
		for _, source := range slices.Sorted(maps.Keys(c.Reported)) {
			if !c.Reported[source].Before(round) {
				continue
			}
			if err := i.expireAssessment(ctx, &c, source); err != nil {
				return n, err
			}
			n++
		}
	}
	return n, nil
}

// expireAssessment takes one assessment's risks off a cluster and its
// workloads, as if it had turned Healthy. The workloads go first: the
// cluster's report of the assessment is what makes a run expire it, so
// it is dropped only once every workload is done, and a run that fails
// on a workload leaves the next one (the timer's retry) to finish.
func (i *Inventory) expireAssessment(ctx context.Context, c *model.Cluster, source string) error {
	ws, _, err := i.Store.WorkloadsOfCluster(ctx, c.ID, c.ResourceID, maxRelink)
	if err != nil {
		return fmt.Errorf("expire %s on cluster %s: %w", source, c.ID, err)
	}
	for _, w := range ws {
		if _, err := i.setRisks(ctx, w.Cluster, w.ID, source, nil, nil); err != nil {
			return err
		}
	}
	if err := i.setClusterRisks(ctx, c.ID, c.ResourceID, source, nil, false); err != nil {
		return err
	}
	if i.Logger != nil {
		i.Logger.Info("assessment risk expired: the latest snapshot left it out", "cluster", c.ID, "source", source)
	}
	return nil
}

// subscriptionOf is the subscription id in an ARM id, lower case ("" when none).
func subscriptionOf(resourceID string) string {
	rest, ok := strings.CutPrefix(strings.ToLower(resourceID), "/subscriptions/")
	if !ok {
		return ""
	}
	sub, _, _ := strings.Cut(rest, "/")
	return sub
}
