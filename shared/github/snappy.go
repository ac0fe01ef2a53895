package github

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// snappyDecode decodes the Snappy block format (not the framed stream):
// GitHub serves an attestation's bundle at its bundle_url compressed so.
// Written here rather than pulled in as a module: decoding is a page of
// code, and the output is bounded by maxLen against a hostile length.
func snappyDecode(src []byte, maxLen int) ([]byte, error) {
	n, k := binary.Uvarint(src)
	if k <= 0 || n > uint64(maxLen) {
		return nil, errors.New("snappy: bad or too large decoded length")
	}
	src = src[k:]
	dst := make([]byte, 0, n)
	for len(src) > 0 {
		tag := src[0]
		var length, offset int
		switch tag & 3 {
		case 0: // literal
			length = int(tag >> 2)
			src = src[1:]
			if length >= 60 {
				extra := length - 59
				if len(src) < extra {
					return nil, errors.New("snappy: truncated literal length")
				}
				length = 0
				for i := extra - 1; i >= 0; i-- {
					length = length<<8 | int(src[i])
				}
				src = src[extra:]
			}
			length++
			if length > len(src) || len(dst)+length > int(n) {
				return nil, errors.New("snappy: literal overruns input or output")
			}
			dst = append(dst, src[:length]...)
			src = src[length:]
			continue
		case 1: // copy, 1-byte offset
			if len(src) < 2 {
				return nil, errors.New("snappy: truncated copy")
			}
			length = 4 + int(tag>>2)&7
			offset = int(tag&0xe0)<<3 | int(src[1])
			src = src[2:]
		case 2: // copy, 2-byte offset
			if len(src) < 3 {
				return nil, errors.New("snappy: truncated copy")
			}
			length = 1 + int(tag>>2)
			offset = int(binary.LittleEndian.Uint16(src[1:3]))
			src = src[3:]
		case 3: // copy, 4-byte offset
			if len(src) < 5 {
				return nil, errors.New("snappy: truncated copy")
			}
			length = 1 + int(tag>>2)
			offset = int(binary.LittleEndian.Uint32(src[1:5]))
			src = src[5:]
		}
		if offset <= 0 || offset > len(dst) || len(dst)+length > int(n) {
			return nil, fmt.Errorf("snappy: bad copy (offset %d, length %d)", offset, length)
		}
		// Byte by byte: a copy may overlap what it produces (runs).
		start := len(dst) - offset
		for i := 0; i < length; i++ {
			dst = append(dst, dst[start+i])
		}
	}
	if len(dst) != int(n) {
		return nil, errors.New("snappy: decoded length does not match header")
	}
	return dst, nil
}
