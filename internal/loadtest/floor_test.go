package loadtest

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/x509"
	"encoding/pem"
	"math"
	"os"
	"path/filepath"
	"testing"
)

// floorVM is the floor's answer to a GET of a VM (floorserver embeds it).
const floorVM = "floorserver/vm.json"

// TestFloorServer proves server=floor on the real binary: floorserver
// builds, starts through the harness (which finds its certificate as the
// CA and its token), answers /healthz as the apiserver does and a VM GET
// with its fixed VM, takes the tenancy, creates and updates, serves a
// measured run of GETs, and stops on SIGTERM with its temp dir removed.
func TestFloorServer(t *testing.T) {
	ctx := t.Context()
	root, err := ModuleRoot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	bin, err := BuildPackage(ctx, root, FloorPackage, t.TempDir(), "floorserver")
	if err != nil {
		t.Fatal(err)
	}
	s, err := Start(ctx, bin, Options{Conns: 4})
	if err != nil {
		t.Fatal(err)
	}
	stopped := false
	defer func() {
		if !stopped {
			_ = s.Stop()
		}
	}()
	checkFloorCert(t, filepath.Join(s.DataDir, "pki", "ca.crt"))
	checkFloorAnswers(t, s)
	r, err := Run(ctx, s.PID(), Load{Concurrency: 4, MinOps: 200, Op: s.Client.GetVM})
	if err != nil || r.Ops < 200 || r.CPU < 0 {
		t.Errorf("GET run: %d ops (want >= 200), CPU %v, %v", r.Ops, r.CPU, err)
	}
	dir := s.dir
	stopped = true
	if err := s.Stop(); err != nil { // an exit status other than 0 is an error
		t.Error(err)
	}
	if err := syscallKill0(s.PID()); err == nil {
		t.Errorf("floorserver %d still running after Stop", s.PID())
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("temp dir %s after Stop: %v", dir, err)
	}
}

// checkFloorCert: the CA the client trusts is a self-signed ECDSA P-256
// certificate, as the apiserver's keys are.
func checkFloorCert(t *testing.T, file string) {
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	blk, _ := pem.Decode(b)
	if blk == nil || blk.Type != "CERTIFICATE" {
		t.Fatalf("%s: no PEM certificate", file)
	}
	c, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	pub, ok := c.PublicKey.(*ecdsa.PublicKey)
	if !ok || pub.Curve != elliptic.P256() {
		t.Errorf("certificate key %T, want ECDSA P-256", c.PublicKey)
	}
	if err := c.CheckSignatureFrom(c); err != nil {
		t.Errorf("certificate not self-signed: %v", err)
	}
}

// checkFloorAnswers: /healthz answers the apiserver's body, a VM GET the
// fixed VM, and the tenancy, a create and an update their statuses (the
// client checks them) with the VM.
func checkFloorAnswers(t *testing.T, s *Server) {
	ctx := t.Context()
	var buf bytes.Buffer
	if err := s.Client.Read(ctx, "/healthz", &buf); err != nil || buf.String() != `{"code":200,"error":null,"data":{"status":"ok"}}`+"\n" {
		t.Errorf("/healthz answered %q, %v", buf.String(), err)
	}
	if err := s.Client.Healthz(ctx); err != nil { // without the token
		t.Error(err)
	}
	want, err := os.ReadFile(floorVM)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Client.Read(ctx, vmsPath+"/"+vmID(7), &buf); err != nil || !bytes.Equal(buf.Bytes(), want) {
		t.Errorf("GET of a VM answered %q, %v; want %s", buf.String(), err, floorVM)
	}
	if err := s.Client.Tenancy(ctx); err != nil {
		t.Error(err)
	}
	if err := s.Client.CreateVM(ctx, 1); err != nil {
		t.Error(err)
	}
	if err := s.Client.UpdateVM(ctx, 1, 2); err != nil {
		t.Error(err)
	}
}

// checkFloorVMSize: the floor's VM is within 15 % of the size of the
// apiserver's answer body to a GET of a VM of the benchmark's, so that
// both write as many bytes per GET.
func checkFloorVMSize(t *testing.T, apiserverBody []byte) {
	floor, err := os.ReadFile(floorVM)
	if err != nil {
		t.Fatal(err)
	}
	if d := math.Abs(float64(len(floor)-len(apiserverBody))) / float64(len(apiserverBody)); d > 0.15 {
		t.Errorf("the floor's VM (%s) is %d bytes, the apiserver answers %d: recapture it from a GET of vm0", floorVM, len(floor), len(apiserverBody))
	}
}
