package uitest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/client"
)

// The contest the admin prepares (testdata/contest.yaml) and who may see
// what of it.
const (
	contest    = "contest"
	envID      = "ctf"
	teamA      = "team-a"
	teamB      = "team-b"
	operator   = "team-a-op" // the operator token's user, bound in team a's namespace
	foreignVM  = "b-only"    // a VM only team b has (VM ids are the same in every copy)
	goldenMark = "ui-golden"
)

var (
	nsA = api.CopyNamespace(envID, teamA)
	nsB = api.CopyNamespace(envID, teamB)
)

// prepared is what the admin hands the browser tests.
type prepared struct {
	operatorToken string
	linkToken     string
}

// prepare does what only an admin does out of band, as the admin: the
// contest, its image, the environment's copies running with a golden
// state, team b's own VM, the operator's token and binding, and team a's
// console link (every VM of the copy, power included).
func (w *webConsole) prepare(imageURL, key string) prepared {
	w.t.Helper()
	w.applyFile("testdata/contest.yaml", strings.NewReplacer("IMAGE_URL", imageURL, "SSH_KEY", key))
	w.wait("imageentity", client.Scope{Group: contest}, "tiny", "Available", 3*time.Minute)
	w.step("contest: image ready")
	w.waitCopies(4 * time.Minute)
	w.step("environment ctf: both copies' VMs Running")
	w.capture(3 * time.Minute)
	w.step("environment ctf: golden state of team-a captured")
	w.createVM(nsB, foreignVM)
	w.wait("virtualmachine", client.Scope{Group: contest, Namespace: nsB}, foreignVM, "Stopped", 2*time.Minute)
	p := prepared{operatorToken: w.operatorToken(), linkToken: w.teamLink()}
	w.step("operator token, binding and team a's console link made")
	return p
}

// applyFile applies a YAML file of testdata with humcli after replacing
// its placeholders.
func (w *webConsole) applyFile(name string, repl *strings.Replacer) {
	w.t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		w.t.Fatal(err)
	}
	p := filepath.Join(w.t.TempDir(), filepath.Base(name))
	if err := os.WriteFile(p, []byte(repl.Replace(string(b))), 0o600); err != nil {
		w.t.Fatal(err)
	}
	if out, err := w.l.Humcli(context.Background(), "apply", "-f", p); err != nil {
		w.t.Fatalf("humcli apply -f %s: %v\n%s", name, err, out)
	}
}

func (w *webConsole) wait(kind string, sc client.Scope, id, state string, timeout time.Duration) {
	w.t.Helper()
	if err := w.l.WaitState(context.Background(), kind, sc, id, state, timeout); err != nil {
		w.t.Fatal(err)
	}
}

func (w *webConsole) env() *api.Environment {
	w.t.Helper()
	env, err := client.For[*api.Environment](w.l.Client()).Get(context.Background(), client.Scope{Group: contest}, envID)
	if err != nil {
		w.t.Fatal(err)
	}
	return env
}

// waitEnv polls the environment until cond holds.
func (w *webConsole) waitEnv(timeout time.Duration, cond func(*api.Environment) (bool, string)) {
	w.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ok, why := cond(w.env())
		if ok {
			return
		}
		if time.Now().After(deadline) {
			st, _ := json.MarshalIndent(w.env().Status, "", "  ")
			w.t.Fatalf("environment %s after %v: %s\nstatus: %s", envID, timeout, why, st)
		}
		time.Sleep(time.Second)
	}
}

// waitCopies waits until both copies report their VM ready.
func (w *webConsole) waitCopies(timeout time.Duration) {
	w.t.Helper()
	w.waitEnv(timeout, func(env *api.Environment) (bool, string) {
		ready := 0
		for _, c := range env.Status.Copies {
			if c.VMsTotal == 1 && c.VMsReady == 1 {
				ready++
			}
		}
		return ready == 2, fmt.Sprintf("%d of 2 copies ready", ready)
	})
}

// capture asks for the golden state of team a (disks only: a reset boots
// the VM again) and waits until it is Ready.
func (w *webConsole) capture(timeout time.Duration) {
	w.t.Helper()
	envs := client.For[*api.Environment](w.l.Client())
	for i := 0; ; i++ {
		env := w.env()
		env.Spec.Golden.Capture = goldenMark
		if _, err := envs.Update(context.Background(), env); err == nil {
			break
		} else if i == 20 {
			w.t.Fatalf("update environment %s: %v", envID, err)
		}
		time.Sleep(100 * time.Millisecond) // a conflict with the controller's writes
	}
	w.waitEnv(timeout, func(env *api.Environment) (bool, string) {
		g := env.Status.Golden
		if g.Capture == goldenMark && g.State == api.SnapshotError {
			w.t.Fatalf("golden capture failed: %s", g.Message)
		}
		return g.Capture == goldenMark && g.State == api.SnapshotReady, fmt.Sprintf("golden %s %q", g.State, g.Message)
	})
}

// createVM makes a stopped VM without disks: it exists in its namespace
// only, so a link or operator of the other team has a name to fail on.
func (w *webConsole) createVM(ns, id string) {
	w.t.Helper()
	vm := &api.VirtualMachine{Meta: api.Meta{APIType: api.VirtualMachineKind.APIType, ID: id, Group: contest, Namespace: ns}}
	vm.Spec.RequestVcpus, vm.Spec.LimitVcpus = "100m", "1000m"
	vm.Spec.RequestMemory, vm.Spec.LimitMemory = "64M", "64M"
	vm.Spec.ActionState = "PowerOff"
	if _, err := client.For[*api.VirtualMachine](w.l.Client()).Create(context.Background(), vm); err != nil {
		w.t.Fatalf("create vm %s/%s: %v", ns, id, err)
	}
}

// operatorToken makes a token for the user operator and binds the role
// operator to it in team a's namespace only; it returns the bearer token.
func (w *webConsole) operatorToken() string {
	w.t.Helper()
	ctx := context.Background()
	tok := &api.Token{Meta: api.Meta{APIType: api.TokenKind.APIType, ID: operator}}
	tok.Spec.Owner, tok.Spec.OwnerKind = operator, "user"
	got, err := client.For[*api.Token](w.l.Client()).Create(ctx, tok)
	if err != nil || got.Status.Token == "" {
		w.t.Fatalf("create token %s: %v (token %q)", operator, err, got.Status.Token)
	}
	rb := &api.RoleBinding{Meta: api.Meta{APIType: api.RoleBindingKind.APIType, ID: operator, Group: contest}}
	rb.Spec = api.RoleBindingSpec{Role: "operator", Namespace: nsA, Subjects: []api.Subject{{Kind: "user", Name: operator}}}
	if _, err := client.For[*api.RoleBinding](w.l.Client()).Create(ctx, rb); err != nil {
		w.t.Fatalf("create rolebinding %s: %v", operator, err)
	}
	return got.Status.Token
}

// teamLink makes team a's console link: every VM of its copy, with power
// (spec.allVirtualMachines, spec.power). It is posted as JSON, as the UI
// or humcli would, and returns the link's token.
func (w *webConsole) teamLink() string {
	w.t.Helper()
	body := map[string]any{
		"meta": map[string]any{"apiType": api.ConsoleLinkKind.APIType, "id": "team-a-link", "group": contest, "namespace": nsA},
		"spec": map[string]any{"allVirtualMachines": true, "power": true,
			"expiresAt": time.Now().Add(3 * time.Hour).UTC().Format(time.RFC3339)},
	}
	var out struct {
		Data struct {
			ConsoleLink struct {
				Status struct {
					Token string `json:"token"`
					UIURL string `json:"uiURL"`
				} `json:"status"`
			} `json:"consolelink"`
		} `json:"data"`
	}
	path := "/api/v0/groups/" + contest + "/namespaces/" + nsA + "/consolelinks"
	if code, b := w.adminJSON(http.MethodPost, path, body, &out); code != http.StatusCreated && code != http.StatusOK {
		w.t.Fatalf("create team a's console link (spec.allVirtualMachines, spec.power: issue 19's server part): %d %s", code, b)
	}
	if out.Data.ConsoleLink.Status.Token == "" {
		w.t.Fatalf("team a's console link: no status.token in the create's answer")
	}
	w.t.Logf("team a's console link: uiURL %q", out.Data.ConsoleLink.Status.UIURL)
	return out.Data.ConsoleLink.Status.Token
}

// adminJSON sends a JSON request as the admin and decodes the answer into
// out; it returns the status and the body.
func (w *webConsole) adminJSON(method, path string, body, out any) (int, []byte) {
	w.t.Helper()
	b, err := json.Marshal(body)
	if err != nil {
		w.t.Fatal(err)
	}
	req, err := http.NewRequest(method, w.l.APIURL()+path, bytes.NewReader(b))
	if err != nil {
		w.t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+w.adminToken)
	req.Header.Set("Content-Type", "application/json")
	resp, err := w.l.HTTPClient().Do(req)
	if err != nil {
		w.t.Fatal(err)
	}
	defer resp.Body.Close()
	rb, _ := io.ReadAll(resp.Body)
	if out != nil {
		json.Unmarshal(rb, out)
	}
	return resp.StatusCode, rb
}
