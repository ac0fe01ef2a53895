package github

import (
	"bytes"
	"strings"
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

func TestSnappyDecode(t *testing.T) {
	tests := []struct {
		name    string
		in      []byte
		want    string
		wantErr bool
	}{
		{"literal", []byte{5, 4 << 2, 'h', 'e', 'l', 'l', 'o'}, "hello", false},
		// "abc" then a 1-byte-offset copy of 9 from 3 back: an overlapping run.
		{"copy1 overlapping", []byte{12, 2 << 2, 'a', 'b', 'c', 0x01 | (9-4)<<2, 3}, "abcabcabcabc", false},
		// "ab" then a 2-byte-offset copy of 4 from 2 back.
		{"copy2", []byte{6, 1 << 2, 'a', 'b', 0x02 | (4-1)<<2, 2, 0}, "ababab", false},
		{"copy4", []byte{4, 1 << 2, 'x', 'y', 0x03 | (2-1)<<2, 2, 0, 0, 0}, "xyxy", false},
		{"long literal with 1 length byte", append([]byte{70, 60 << 2, 69}, bytes.Repeat([]byte("z"), 70)...), strings.Repeat("z", 70), false},
		{"copy before start", []byte{4, 0x01 | 0<<2, 5}, "", true},
		{"length mismatch", []byte{9, 1 << 2, 'a', 'b'}, "", true},
		{"truncated literal", []byte{5, 4 << 2, 'h', 'e'}, "", true},
		{"over the bound", []byte{0xff, 0xff, 0xff, 0xff, 0x0f}, "", true},
	}
	for _, tt := range tests {
		got, err := snappyDecode(tt.in, 1<<20)
		if (err != nil) != tt.wantErr || (err == nil && string(got) != tt.want) {
			t.Errorf("%s: snappyDecode = %q, %v; want %q, err %v", tt.name, got, err, tt.want, tt.wantErr)
		}
	}
}
