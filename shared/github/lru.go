package github

import (
	"container/list"
	"sync"
	"time"
)

// lru is a bounded, concurrency-safe least-recently-used cache with optional
// per-entry expiry. It bounds both the number of entries and (when size is
// given) their total size, so no cache here can grow with the data it sees.
type lru[K comparable, V any] struct {
	mu         sync.Mutex
	maxEntries int
	maxBytes   int64
	size       func(V) int64
	order      *list.List // front = most recently used
	items      map[K]*list.Element
	bytes      int64
}

type lruEntry[K comparable, V any] struct {
	key     K
	val     V
	expires time.Time // zero: never
	size    int64
}

func newLRU[K comparable, V any](maxEntries int, maxBytes int64, size func(V) int64) *lru[K, V] {
	if maxEntries <= 0 {
		maxEntries = 1
	}
	return &lru[K, V]{maxEntries: maxEntries, maxBytes: maxBytes, size: size,
		order: list.New(), items: make(map[K]*list.Element)}
}

func (c *lru[K, V]) get(key K, now time.Time) (V, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.items[key]
	if !ok {
		var zero V
		return zero, false
	}
	e := el.Value.(*lruEntry[K, V])
	if !e.expires.IsZero() && !now.Before(e.expires) {
		c.removeElement(el)
		var zero V
		return zero, false
	}
	c.order.MoveToFront(el)
	return e.val, true
}

// put stores v; a value larger than the byte bound is not stored at all.
func (c *lru[K, V]) put(key K, v V, expires time.Time) {
	var sz int64
	if c.size != nil {
		sz = c.size(v)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.items[key]; ok {
		c.removeElement(el)
	}
	if c.maxBytes > 0 && sz > c.maxBytes {
		return
	}
	c.items[key] = c.order.PushFront(&lruEntry[K, V]{key: key, val: v, expires: expires, size: sz})
	c.bytes += sz
	for c.order.Len() > c.maxEntries || (c.maxBytes > 0 && c.bytes > c.maxBytes) {
		c.removeElement(c.order.Back())
	}
}

func (c *lru[K, V]) remove(key K) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.items[key]; ok {
		c.removeElement(el)
	}
}

func (c *lru[K, V]) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.order.Len()
}

func (c *lru[K, V]) removeElement(el *list.Element) {
	e := el.Value.(*lruEntry[K, V])
	c.order.Remove(el)
	delete(c.items, e.key)
	c.bytes -= e.size
}
