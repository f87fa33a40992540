package pki

import (
	"crypto/ecdsa"
	"crypto/x509"
	"encoding/pem"
	"fmt"

	"github.com/humstack/humstack/api"
)

// maxPEM bounds what the parsers look at: a CSR or certificate of a P-256
// key is well under 2 KiB.
const maxPEM = 64 << 10

// onePEM returns the first PEM block of type typ in b. Input from the
// network goes through here, so every failure is api.ErrInvalid.
func onePEM(b []byte, typ string) (*pem.Block, error) {
	if len(b) > maxPEM {
		return nil, fmt.Errorf("%s: %d bytes, more than %d: %w", typ, len(b), maxPEM, api.ErrInvalid)
	}
	for {
		var blk *pem.Block
		blk, b = pem.Decode(b)
		if blk == nil {
			return nil, fmt.Errorf("no %s PEM block: %w", typ, api.ErrInvalid)
		}
		if blk.Type == typ {
			return blk, nil
		}
	}
}

// ParseCert parses the first CERTIFICATE block of b.
func ParseCert(b []byte) (*x509.Certificate, error) {
	blk, err := onePEM(b, "CERTIFICATE")
	if err != nil {
		return nil, err
	}
	cert, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		return nil, fmt.Errorf("certificate: %v: %w", err, api.ErrInvalid)
	}
	return cert, nil
}

// ParseCerts parses every CERTIFICATE block of b (a CA bundle); at least one.
func ParseCerts(b []byte) ([]*x509.Certificate, error) {
	var out []*x509.Certificate
	for {
		var blk *pem.Block
		blk, b = pem.Decode(b)
		if blk == nil {
			break
		}
		if blk.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(blk.Bytes)
		if err != nil {
			return nil, fmt.Errorf("certificate %d: %v: %w", len(out)+1, err, api.ErrInvalid)
		}
		out = append(out, c)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no CERTIFICATE PEM block: %w", api.ErrInvalid)
	}
	return out, nil
}

// ParseKey parses an EC private key, as "EC PRIVATE KEY" or PKCS#8
// "PRIVATE KEY" (what openssl writes).
func ParseKey(b []byte) (*ecdsa.PrivateKey, error) {
	for rest := b; ; {
		var blk *pem.Block
		blk, rest = pem.Decode(rest)
		if blk == nil {
			return nil, fmt.Errorf("no EC PRIVATE KEY or PRIVATE KEY PEM block: %w", api.ErrInvalid)
		}
		switch blk.Type {
		case "EC PRIVATE KEY":
			k, err := x509.ParseECPrivateKey(blk.Bytes)
			if err != nil {
				return nil, fmt.Errorf("key: %v: %w", err, api.ErrInvalid)
			}
			return k, nil
		case "PRIVATE KEY":
			k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
			if err != nil {
				return nil, fmt.Errorf("key: %v: %w", err, api.ErrInvalid)
			}
			ek, ok := k.(*ecdsa.PrivateKey)
			if !ok {
				return nil, fmt.Errorf("key: %T, want an ECDSA key: %w", k, api.ErrInvalid)
			}
			return ek, nil
		}
	}
}

// ParseCSR parses a CERTIFICATE REQUEST block and checks its signature, so
// the requester holds the key it asks a certificate for.
func ParseCSR(b []byte) (*x509.CertificateRequest, error) {
	blk, err := onePEM(b, "CERTIFICATE REQUEST")
	if err != nil {
		return nil, err
	}
	csr, err := x509.ParseCertificateRequest(blk.Bytes)
	if err != nil {
		return nil, fmt.Errorf("certificate request: %v: %w", err, api.ErrInvalid)
	}
	if err := csr.CheckSignature(); err != nil {
		return nil, fmt.Errorf("certificate request signature: %v: %w", err, api.ErrInvalid)
	}
	return csr, nil
}
