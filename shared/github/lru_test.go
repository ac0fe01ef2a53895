package github

import (
	"testing"
	"time"
)

func TestLRUBounds(t *testing.T) {
	now := time.Now()
	c := newLRU[string, string](3, 10, func(v string) int64 { return int64(len(v)) })
	c.put("a", "1", time.Time{})
	c.put("b", "22", time.Time{})
	c.put("c", "333", time.Time{})
	c.get("a", now) // a is now the most recent
	c.put("d", "4", time.Time{})
	if _, ok := c.get("b", now); ok {
		t.Error("least recently used entry kept past the entry bound")
	}
	if _, ok := c.get("a", now); !ok {
		t.Error("recently used entry evicted")
	}
	c.put("e", "55555", time.Time{}) // bytes: a1 c3 d1 e5 = 10, entries 4 > 3
	if c.len() != 3 {
		t.Errorf("len = %d, want 3", c.len())
	}
	c.put("big", "12345678901", time.Time{})
	if _, ok := c.get("big", now); ok {
		t.Error("value larger than the byte bound was stored")
	}
	c.put("x", "1", now.Add(time.Minute))
	if _, ok := c.get("x", now.Add(59*time.Second)); !ok {
		t.Error("entry gone before its expiry")
	}
	if _, ok := c.get("x", now.Add(time.Minute)); ok {
		t.Error("entry served at its expiry")
	}
}
