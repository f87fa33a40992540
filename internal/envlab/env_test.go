package envlab_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/client"
)

func itoa(i int) string { return strconv.Itoa(i) }

// two is i with at least two digits.
func two(i int) string { return fmt.Sprintf("%02d", i) }

// copyScope is the scope of copy c of environment env.
func copyScope(env, c string) client.Scope {
	return client.Scope{Group: group, Namespace: api.CopyNamespace(env, c)}
}

func (e *envLab) env(id string) *api.Environment {
	e.tb.Helper()
	env, err := client.For[*api.Environment](e.c).Get(context.Background(), groupScope, id)
	if err != nil {
		e.tb.Fatalf("environment %s: %v", id, err)
	}
	return env
}

// updateEnv applies change to the environment's spec, retrying on
// conflicts (the controller writes its status and finalizer meanwhile).
func (e *envLab) updateEnv(id string, change func(*api.EnvironmentSpec)) {
	e.tb.Helper()
	envs := client.For[*api.Environment](e.c)
	for range 20 {
		env := e.env(id)
		change(&env.Spec)
		_, err := envs.Update(context.Background(), env)
		if err == nil {
			return
		}
		if !errors.Is(err, api.ErrConflict) {
			e.tb.Fatalf("update environment %s: %v", id, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	e.tb.Fatalf("update environment %s: conflicts 20 times", id)
}

// waitEnv polls the environment until cond holds.
func (e *envLab) waitEnv(id string, timeout time.Duration, cond func(*api.Environment) (bool, string)) *api.Environment {
	e.tb.Helper()
	var last *api.Environment
	ok := poll(timeout, func() bool {
		env, err := client.For[*api.Environment](e.c).Get(context.Background(), groupScope, id)
		if err != nil {
			return false
		}
		last = env
		done, _ := cond(env)
		return done
	})
	if !ok {
		why := "never read"
		if last != nil {
			_, why = cond(last)
		}
		st, _ := json.MarshalIndent(lastStatus(last), "", "  ")
		e.tb.Fatalf("environment %s after %v: %s\nstatus: %s%s", id, timeout, why, st, e.logs(15))
	}
	return last
}

func lastStatus(env *api.Environment) any {
	if env == nil {
		return nil
	}
	return env.Status
}

// waitCopies waits until the named copies (all when none are named) each
// report every one of vms VMs ready, and the VMs say Running themselves.
func (e *envLab) waitCopies(id string, vms int, timeout time.Duration, copies ...string) *api.Environment {
	e.tb.Helper()
	return e.waitEnv(id, timeout, func(env *api.Environment) (bool, string) {
		names := copies
		if len(names) == 0 {
			names = api.CopyNames(env.Spec)
		}
		for _, n := range names {
			i := slices.IndexFunc(env.Status.Copies, func(c api.EnvironmentCopy) bool { return c.Name == n })
			if i < 0 {
				return false, "no status of copy " + n
			}
			c := env.Status.Copies[i]
			if c.VMsTotal != vms || c.VMsReady != vms {
				return false, fmt.Sprintf("copy %s: %d/%d VMs ready, want %d (%s %s)", n, c.VMsReady, c.VMsTotal, vms, c.State, c.Message)
			}
			if why := e.notRunning(copyScope(id, n)); why != "" {
				return false, "copy " + n + ": " + why
			}
		}
		return true, ""
	})
}

// notRunning names the VMs of a scope that are not Running ("" if none).
func (e *envLab) notRunning(sc client.Scope) string {
	vms, _, err := client.For[*api.VirtualMachine](e.c).List(context.Background(), sc)
	if err != nil {
		return err.Error()
	}
	for _, vm := range vms {
		if vm.Status.State != "Running" {
			return fmt.Sprintf("vm %s is %s (%s)", vm.Meta.ID, vm.Status.State, vm.Status.Message)
		}
	}
	return ""
}

// capture asks for a golden state of copy 0 (memory: warm) under token
// and waits until it is Ready; it returns the golden status.
func (e *envLab) capture(id string, memory bool, token string, timeout time.Duration) api.GoldenStatus {
	e.tb.Helper()
	e.updateEnv(id, func(s *api.EnvironmentSpec) {
		s.Golden = api.EnvironmentGolden{Copy: "0", Memory: memory, Capture: token}
	})
	env := e.waitEnv(id, timeout, func(env *api.Environment) (bool, string) {
		g := env.Status.Golden
		if g.Capture == token && g.State == api.SnapshotError {
			e.tb.Fatalf("golden capture %s failed: %s", token, g.Message)
		}
		return g.Capture == token && g.State == api.SnapshotReady && len(g.Snapshots) > 0,
			fmt.Sprintf("golden %s %q (capture %q, want %q)", g.State, g.Message, g.Capture, token)
	})
	if env.Status.Golden.Memory != memory {
		e.tb.Fatalf("golden state memory=%v, asked %v", env.Status.Golden.Memory, memory)
	}
	return env.Status.Golden
}

// startReset creates a reset of one copy and returns it with the time its
// creation was asked. The API server may refuse it for a while (429: the
// rate limit between resets of a namespace); it is asked again until the
// deadline then, and the time returned is that of the request that passed.
func (e *envLab) startReset(env, c string, cold bool) (*api.Reset, time.Time) {
	e.tb.Helper()
	sc := copyScope(env, c)
	deadline := time.Now().Add(2 * time.Minute)
	for {
		start := time.Now()
		r := &api.Reset{Meta: api.Meta{APIType: api.ResetKind.APIType, ID: fmt.Sprintf("r%d", time.Now().UnixNano()),
			Group: sc.Group, Namespace: sc.Namespace}, Spec: api.ResetSpec{Cold: cold}}
		got, err := client.For[*api.Reset](e.c).Create(context.Background(), r)
		if err == nil {
			return got, start
		}
		if !errors.Is(err, api.ErrTooManyRequests) || time.Now().After(deadline) {
			e.tb.Fatalf("create reset of %s: %v", sc.Namespace, err)
		}
		time.Sleep(500 * time.Millisecond)
	}
}

// waitReset waits until the reset finished and fails the test unless it
// succeeded.
func (e *envLab) waitReset(r *api.Reset, timeout time.Duration) *api.Reset {
	e.tb.Helper()
	sc := client.ScopeOf(r)
	var last *api.Reset
	ok := poll(timeout, func() bool {
		got, err := client.For[*api.Reset](e.c).Get(context.Background(), sc, r.Meta.ID)
		if err == nil {
			last = got
		}
		return err == nil && got.Status.Finished()
	})
	if !ok || last.Status.Phase != api.ResetSucceeded {
		var st []byte
		if last != nil {
			st, _ = json.MarshalIndent(last.Status, "", "  ")
		}
		e.tb.Fatalf("reset %s/%s not Succeeded (waited %v): %s%s", sc.Namespace, r.Meta.ID, timeout, st, e.logs(20))
	}
	return last
}

// vms returns the VMs of a scope by id.
func (e *envLab) vms(sc client.Scope) map[string]*api.VirtualMachine {
	e.tb.Helper()
	list, _, err := client.For[*api.VirtualMachine](e.c).List(context.Background(), sc)
	if err != nil {
		e.tb.Fatal(err)
	}
	m := map[string]*api.VirtualMachine{}
	for _, vm := range list {
		m[vm.Meta.ID] = vm
	}
	return m
}

// setAction sets a VM's actionState, retrying on conflicts.
func (e *envLab) setAction(sc client.Scope, id, action string) {
	e.tb.Helper()
	vms := client.For[*api.VirtualMachine](e.c)
	for range 20 {
		vm, err := vms.Get(context.Background(), sc, id)
		if err != nil {
			e.tb.Fatal(err)
		}
		vm.Spec.ActionState = action
		if _, err = vms.Update(context.Background(), vm); err == nil {
			return
		}
		if !errors.Is(err, api.ErrConflict) {
			e.tb.Fatalf("set %s %s: %v", id, action, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	e.tb.Fatalf("set %s %s: conflicts 20 times", id, action)
}

// poll calls f every 100 ms until it returns true (true) or timeout
// passes (false).
func poll(timeout time.Duration, f func() bool) bool {
	deadline := time.Now().Add(timeout)
	for {
		if f() {
			return true
		}
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(100 * time.Millisecond)
	}
}
