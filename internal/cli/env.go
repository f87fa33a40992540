package cli

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/client"
	"github.com/humstack/humstack/internal/controller"
)

// resetPoll is how often --wait looks at a reset or a restore: resets
// take seconds, and each step is worth seeing.
const resetPoll = 250 * time.Millisecond

func (a *app) envCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "env",
		Short: "Environments: reset a copy, capture the golden state, show the copies",
		Long: "Commands on environments (corev0/environment, see docs/environments.md) of the\n" +
			"-g group. Create and change them with create/apply; these are the workflows.",
	}
	cmd.AddCommand(a.envResetCmd(), a.envCaptureCmd(), a.envStatusCmd())
	return cmd
}

// random is n random bytes in hex: unique ids and tokens.
func random(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // never fails (crypto/rand)
	return hex.EncodeToString(b)
}

// environment reads environment id of the -g group.
func (a *app) environment(ctx context.Context, c *client.Client, id string) (*api.Environment, error) {
	if !api.IsID(id) {
		return nil, fmt.Errorf("%q is not an environment id", id)
	}
	env, err := client.For[*api.Environment](c).Get(ctx, a.scope(api.EnvironmentKind, false), id)
	if err != nil {
		return nil, naming("environment "+a.global.group+"/"+id, "", err)
	}
	return env, nil
}

func (a *app) envResetCmd() *cobra.Command {
	var wait, cold bool
	var priority int
	var at string
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "reset ENV COPY [--wait] [--priority N] [--at T] [--cold]",
		Short: "Return one copy of an environment to its golden state",
		Long: "Create a reset job (corev0/reset) in the namespace of copy COPY of environment\n" +
			"ENV. The Core agent's queue runs it: every VM of the copy is stopped, its disks\n" +
			"become fresh overlays of the golden snapshots, and it resumes from the saved\n" +
			"memory (warm) or boots (cold: --cold, or a golden state without memory). No\n" +
			"other copy is touched. --wait prints the queue position, each VM's step and\n" +
			"the total time, and exits 1 if the reset failed. A team's operator may reset\n" +
			"its copy, not more often than the API server's --reset-interval; --priority\n" +
			"and --at need a grant on the environment (group-admin).",
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), timeout)
			defer cancel()
			r, err := a.createReset(ctx, c, args[0], args[1], api.ResetSpec{Priority: priority, Cold: cold}, at)
			if err != nil || !wait {
				return err
			}
			return a.waitReset(ctx, c, r)
		},
	}
	f := cmd.Flags()
	f.BoolVar(&wait, "wait", false, "wait for the reset, printing each VM's step and the total time")
	f.IntVar(&priority, "priority", 0, "queue priority, 0-1000: higher runs first (needs a grant on the environment)")
	f.StringVar(&at, "at", "", "run at this time: RFC 3339 (2026-05-01T09:00:00Z) or a delay (10m) (needs a grant on the environment)")
	f.BoolVar(&cold, "cold", false, "boot the VMs even when the golden state holds memory")
	f.DurationVar(&timeout, "timeout", 30*time.Minute, "how long --wait waits")
	return cmd
}

// createReset creates the reset of copy copyName of environment envID.
// The copy's name is checked against the environment when the caller may
// read it; a team's operator, bound only in its copy's namespace, may not
// (403, or 404 when it cannot see the group): the reset then goes to the
// namespace the copy would have, and the API server's admission says
// whether that namespace is a copy of the environment.
func (a *app) createReset(ctx context.Context, c *client.Client, envID, copyName string, spec api.ResetSpec, at string) (*api.Reset, error) {
	env, envErr := a.environment(ctx, c, envID)
	switch {
	case envErr == nil:
		if names := api.CopyNames(env.Spec); !slices.Contains(names, copyName) {
			return nil, fmt.Errorf("environment %s has no copy %q (copies: %s)", envID, copyName, strings.Join(names, ", "))
		}
	case !api.IsID(envID) || !(errors.Is(envErr, api.ErrForbidden) || errors.Is(envErr, api.ErrNotFound)):
		return nil, envErr
	}
	if at != "" {
		t, err := parseAt(at, time.Now())
		if err != nil {
			return nil, err
		}
		spec.At = t.UTC().Format(time.RFC3339)
	}
	r := api.ResetKind.New().(*api.Reset)
	r.Meta.ID = "reset-" + time.Now().UTC().Format("20060102-150405") + "-" + random(2)
	r.Meta.Group, r.Meta.Namespace = a.global.group, api.CopyNamespace(envID, copyName)
	r.Spec = spec
	out, err := client.For[*api.Reset](c).Create(ctx, r)
	if err != nil {
		if envErr != nil { // both answers: which one explains depends on the caller's rights
			return nil, fmt.Errorf("reset in namespace %s: %w (and %v)", r.Meta.Namespace, err, envErr)
		}
		return nil, err
	}
	fmt.Fprintf(a.stdout, "reset %s/%s/%s of copy %s of environment %s created\n", out.Meta.Group, out.Meta.Namespace, out.Meta.ID, copyName, envID)
	return out, nil
}

// parseAt reads --at: an RFC 3339 time, or a delay from now.
func parseAt(s string, now time.Time) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, nil
	}
	if d, err := time.ParseDuration(s); err == nil && d >= 0 {
		return now.Add(d).Truncate(time.Second), nil
	}
	return time.Time{}, fmt.Errorf("--at %q: want an RFC 3339 time (2026-05-01T09:00:00Z) or a delay (10m)", s)
}

// waitReset follows r until it finishes, printing its phase, position and
// each VM's step as they change, then the total time.
func (a *app) waitReset(ctx context.Context, c *client.Client, r *api.Reset) error {
	start := time.Now()
	var last string
	steps := map[string]string{}
	for {
		cur, err := client.For[*api.Reset](c).Get(ctx, client.ScopeOf(r), r.Meta.ID)
		if err == nil {
			s := cur.Status
			line := orDash(s.Phase)
			if s.Phase == api.ResetQueued && s.Position > 0 {
				line += fmt.Sprintf(" (position %d)", s.Position)
			}
			if s.Message != "" {
				line += ": " + s.Message
			}
			if line != last {
				fmt.Fprintf(a.stdout, "%6.1fs  %s\n", time.Since(start).Seconds(), line)
				last = line
			}
			for _, v := range s.VMs {
				step := orDash(v.Step)
				if v.Mode != "" {
					step += " (" + v.Mode + ")"
				}
				if v.Message != "" {
					step += ": " + v.Message
				}
				if steps[v.ID] != step {
					fmt.Fprintf(a.stdout, "%6.1fs    vm %s on %s: %s\n", time.Since(start).Seconds(), v.ID, orDash(v.Node), step)
					steps[v.ID] = step
				}
			}
			if s.Finished() {
				return a.resetDone(cur, time.Since(start))
			}
		} else if ctx.Err() == nil && !transient(err) {
			return naming("reset "+r.Meta.Namespace+"/"+r.Meta.ID, "", err)
		}
		select {
		case <-ctx.Done():
			a.errorf("reset %s/%s: not finished: %v", r.Meta.Namespace, r.Meta.ID, ctx.Err())
			return errReported
		case <-time.After(resetPoll):
		}
	}
}

// transient says whether a read may succeed when asked again.
func transient(err error) bool { return errors.Is(err, api.ErrUnavailable) }

// resetDone prints the outcome of a finished reset.
func (a *app) resetDone(r *api.Reset, waited time.Duration) error {
	s := r.Status
	if s.Phase == api.ResetFailed {
		a.errorf("reset %s/%s failed: %s", r.Meta.Namespace, r.Meta.ID, s.Message)
		return errReported
	}
	fmt.Fprintf(a.stdout, "copy %s of environment %s reset in %.1fs (%d VMs; %.1fs from the request)\n",
		s.Copy, s.Environment, s.TookSeconds, len(s.VMs), waited.Seconds())
	return nil
}

func (a *app) envCaptureCmd() *cobra.Command {
	var copyName string
	var cold, wait bool
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:   "capture ENV [--copy C] [--cold] [--wait]",
		Short: "Capture a copy of an environment as its golden state",
		Long: "Ask for a new golden state of environment ENV: snapshots of every VM of the\n" +
			"golden copy (--copy, else the environment's spec.golden.copy, else the first),\n" +
			"with their memory unless --cold (then resets boot). Resets and new copies\n" +
			"start from it. --wait waits until it is Ready.",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			ctx, cancel := context.WithTimeout(cmd.Context(), timeout)
			defer cancel()
			env, token, err := a.capture(ctx, c, args[0], copyName, !cold)
			if err != nil || !wait {
				return err
			}
			return a.waitCapture(ctx, c, env, token)
		},
	}
	f := cmd.Flags()
	f.StringVar(&copyName, "copy", "", "the copy to capture (default: spec.golden.copy, else the first)")
	f.BoolVar(&cold, "cold", false, "disks only, no memory: resets boot the VMs")
	f.BoolVar(&wait, "wait", false, "wait until the golden state is Ready")
	f.DurationVar(&timeout, "timeout", 30*time.Minute, "how long --wait waits")
	return cmd
}

// capture sets spec.golden.capture to a new token (the time), and the
// copy and memory; it returns the token.
func (a *app) capture(ctx context.Context, c *client.Client, envID, copyName string, memory bool) (*api.Environment, string, error) {
	env, err := a.environment(ctx, c, envID)
	if err != nil {
		return nil, "", err
	}
	if copyName != "" && !slices.Contains(api.CopyNames(env.Spec), copyName) {
		return nil, "", fmt.Errorf("environment %s has no copy %q (copies: %s)", envID, copyName, strings.Join(api.CopyNames(env.Spec), ", "))
	}
	token := time.Now().UTC().Format(time.RFC3339Nano)
	env, err = controller.Update(ctx, c, env, func(e *api.Environment) bool {
		if copyName != "" {
			e.Spec.Golden.Copy = copyName
		}
		e.Spec.Golden.Memory, e.Spec.Golden.Capture = memory, token
		return true
	})
	if err != nil {
		return nil, "", naming("environment "+envID, "", err)
	}
	from := env.Spec.Golden.Copy
	if from == "" {
		if names := api.CopyNames(env.Spec); len(names) > 0 {
			from = names[0]
		}
	}
	fmt.Fprintf(a.stdout, "environment %s: capturing copy %s as the golden state (memory: %s)\n", envID, from, yesNo(memory))
	return env, token, nil
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// waitCapture waits until the environment's golden state answers token.
func (a *app) waitCapture(ctx context.Context, c *client.Client, env *api.Environment, token string) error {
	start, last := time.Now(), ""
	for {
		cur, err := client.For[*api.Environment](c).Get(ctx, client.ScopeOf(env), env.Meta.ID)
		if err == nil {
			g := cur.Status.Golden
			line := "waiting for the environment controller"
			if g.Capture == token {
				line = orDash(g.State) + " " + g.Message
			}
			if line != last {
				fmt.Fprintf(a.stdout, "%6.1fs  %s\n", time.Since(start).Seconds(), strings.TrimSpace(line))
				last = line
			}
			switch {
			case g.Capture == token && g.FailedCapture == token: // Ready when the previous state stays
				a.errorf("golden state of environment %s: capture failed: %s", env.Meta.ID, g.CaptureError)
				return errReported
			case g.Capture == token && g.State == api.EnvReady:
				fmt.Fprintf(a.stdout, "golden state of environment %s captured: %d snapshots\n", env.Meta.ID, len(g.Snapshots))
				return nil
			case g.Capture == token && g.State == api.EnvError:
				a.errorf("golden state of environment %s: %s", env.Meta.ID, g.Message)
				return errReported
			}
		}
		select {
		case <-ctx.Done():
			a.errorf("golden state of environment %s: not captured: %v", env.Meta.ID, ctx.Err())
			return errReported
		case <-time.After(resetPoll):
		}
	}
}
