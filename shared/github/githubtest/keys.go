package githubtest

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"sync"
	"testing"
)

// GenerateKey returns a fresh 2048-bit RSA private key in PEM (PKCS#1), the
// form GitHub hands out for an App.
func GenerateKey(t testing.TB) []byte {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatalf("generate RSA key: %v", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(k)})
}

var (
	sharedKeyOnce sync.Once
	sharedKey     []byte
	sharedKeyErr  error
)

// defaultKey is generated once per test binary: key generation is the
// slowest part of starting a fake, and tests do not need distinct keys
// unless they say so (WithPrivateKey).
func defaultKey(t testing.TB) []byte {
	t.Helper()
	sharedKeyOnce.Do(func() {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			sharedKeyErr = err
			return
		}
		sharedKey = pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(k)})
	})
	if sharedKeyErr != nil {
		t.Fatalf("generate RSA key: %v", sharedKeyErr)
	}
	return sharedKey
}

func publicKeyOf(t testing.TB, pemBytes []byte) *rsa.PublicKey {
	t.Helper()
	block, _ := pem.Decode(pemBytes)
	if block == nil {
		t.Fatalf("githubtest: private key is not PEM")
	}
	if k, err := x509.ParsePKCS1PrivateKey(block.Bytes); err == nil {
		return &k.PublicKey
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		t.Fatalf("githubtest: parse private key: %v", err)
	}
	rk, ok := k.(*rsa.PrivateKey)
	if !ok {
		t.Fatalf("githubtest: private key is not RSA")
	}
	return &rk.PublicKey
}
