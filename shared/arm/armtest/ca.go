package armtest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// CA is a test certificate authority. Every TLS fake of this package serves
// a certificate it signed for 127.0.0.1 and localhost, so a process that
// trusts the CA through SSL_CERT_FILE reaches the fakes with Go's default
// transport, as the product reaches Azure: no test-only transport switch.
type CA struct {
	// PEM is the CA certificate.
	PEM  []byte
	pool *x509.CertPool
	leaf tls.Certificate
}

var (
	caOnce sync.Once
	ca     *CA
	caErr  error
)

// TestCA returns the process's test CA, made on first use.
func TestCA() (*CA, error) {
	caOnce.Do(func() { ca, caErr = newCA() })
	return ca, caErr
}

func newCA() (*CA, error) {
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "runtimelink test CA"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return nil, err
	}
	caCert, err := x509.ParseCertificate(caDER)
	if err != nil {
		return nil, err
	}
	leafKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	leafTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: "localhost"},
		DNSNames:     []string{"localhost"},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	leafDER, err := x509.CreateCertificate(rand.Reader, leafTmpl, caCert, &leafKey.PublicKey, caKey)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	pool.AddCert(caCert)
	return &CA{
		PEM:  pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}),
		pool: pool,
		leaf: tls.Certificate{Certificate: [][]byte{leafDER}, PrivateKey: leafKey},
	}, nil
}

// ServerTLS is the configuration of a fake's listener.
func (c *CA) ServerTLS() *tls.Config {
	return &tls.Config{Certificates: []tls.Certificate{c.leaf}, MinVersion: tls.VersionTLS12}
}

// Client is an HTTP client that trusts only the CA, for tests that hand a
// transport to a client instead of going through SSL_CERT_FILE.
func (c *CA) Client() *http.Client {
	return &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: c.pool, MinVersion: tls.VersionTLS12}}}
}

// RunTrustingCA runs a package's tests with SSL_CERT_FILE naming the test
// CA, from TestMain, before anything in the process has used TLS: Go reads
// SSL_CERT_FILE once, at the first use of the system roots.
//
//	func TestMain(m *testing.M) { os.Exit(armtest.RunTrustingCA(m)) }
func RunTrustingCA(m *testing.M) int {
	c, err := TestCA()
	if err != nil {
		fmt.Fprintln(os.Stderr, "armtest: test CA:", err)
		return 2
	}
	dir, err := os.MkdirTemp("", "armtest-ca-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "armtest:", err)
		return 2
	}
	defer os.RemoveAll(dir)
	file := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(file, c.PEM, 0o600); err != nil {
		fmt.Fprintln(os.Stderr, "armtest:", err)
		return 2
	}
	os.Setenv("SSL_CERT_FILE", file)
	os.Unsetenv("SSL_CERT_DIR")
	return m.Run()
}
