package cli

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/client"
)

// applyAttempts bounds apply's read-modify-write loop when another writer
// (usually an agent setting an annotation) gets in between.
const applyAttempts = 5

// writeFunc writes one object and returns what happened ("created", ...).
type writeFunc func(ctx context.Context, c *client.Client, m manifest) (string, error)

func (a *app) createCmd() *cobra.Command {
	return a.writeCmd("create", "Create the objects declared in files",
		"Create every object the files declare, owners first (groups, then namespaces, ...).\n"+
			"An object that already exists is an error; use apply to create or update.", create)
}

func (a *app) applyCmd() *cobra.Command {
	return a.writeCmd("apply", "Create the objects declared in files, or update them if they exist",
		"Create every object the files declare, or update it to match the file if it exists.\n"+
			"Annotations set by the system (e.g. networkv0/bridge_name) that the file does not\n"+
			"mention are kept. Prints created, configured or unchanged per object.", apply)
}

func (a *app) updateCmd() *cobra.Command {
	return a.writeCmd("update", "Replace existing objects with the files' content",
		"Replace the meta and spec of existing objects with what the files declare. Each object\n"+
			"must exist. Annotations the file leaves out are removed; use apply to keep those the\n"+
			"system set. A meta.resourceVersion in the file makes the update fail if the object\n"+
			"changed since.", update)
}

// writeCmd builds a command that decodes -f and writes each object with fn.
func (a *app) writeCmd(verb, short, long string, fn writeFunc) *cobra.Command {
	var f fileFlags
	cmd := &cobra.Command{
		Use:   verb + " (-f FILE | FILE...)",
		Short: short,
		Long:  long + "\n\nFiles are given with -f or, as the original humcli took them, as arguments.",
		Args:  fileArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			f.files = append(f.files, args...)
			ms, err := a.loadManifests(f, true)
			if err != nil {
				return err
			}
			sortByRank(ms, false)
			ctx := cmd.Context()
			return a.each(ctx, ms, func(m manifest) (string, error) { return fn(ctx, c, m) })
		},
	}
	f.register(cmd, verb)
	return cmd
}

// each runs op on every object in order, printing one line per object. It
// goes on past a failing object and fails at the end, except when the
// server is unreachable or the user interrupted: then the rest is skipped.
func (a *app) each(ctx context.Context, ms []manifest, op func(manifest) (string, error)) error {
	failed := false
	for i, m := range ms {
		result, err := op(m)
		if err != nil {
			failed = true
			a.objectError(m.name(), err)
			if unreachable(ctx, err) {
				if rest := len(ms) - i - 1; rest > 0 {
					a.errorf("%d more object(s) not attempted", rest)
				}
				break
			}
			continue
		}
		if result != "" {
			fmt.Fprintf(a.stdout, "%s %s\n", m.name(), result)
		}
	}
	if failed {
		return errReported
	}
	return nil
}

func create(ctx context.Context, c *client.Client, m manifest) (string, error) {
	out, err := c.Create(ctx, m.obj)
	if err != nil {
		return "", err
	}
	if t, ok := out.(*api.Token); ok && t.Status.Token != "" {
		// The server shows a token's secret in this one answer only.
		return "created; bearer token (shown only now): " + t.Status.Token, nil
	}
	return "created", nil
}

// apply retries the whole read-modify-write when it loses a race: the
// update carries the resourceVersion it read, so nothing is overwritten
// unseen.
func apply(ctx context.Context, c *client.Client, m manifest) (string, error) {
	var err error
	for range applyAttempts {
		var result string
		result, err = applyOnce(ctx, c, m)
		// A held address (api.ErrHeld) is a conflict no retry resolves.
		if errors.Is(err, api.ErrHeld) || !errors.Is(err, api.ErrConflict) && !errors.Is(err, api.ErrAlreadyExists) {
			return result, err
		}
		if interrupted(ctx) {
			break
		}
	}
	return "", err
}

func applyOnce(ctx context.Context, c *client.Client, m manifest) (string, error) {
	cur, err := c.Get(ctx, m.kind, client.ScopeOf(m.obj), m.obj.GetMeta().ID)
	if errors.Is(err, api.ErrNotFound) {
		return create(ctx, c, m)
	}
	if err != nil {
		return "", err
	}
	next, err := clone(m.kind, m.obj)
	if err != nil {
		return "", err
	}
	nm, cm := next.GetMeta(), cur.GetMeta()
	nm.Annotations = keepAnnotations(nm.Annotations, cm.Annotations)
	nm.ResourceVersion = cm.ResourceVersion
	out, err := c.Update(ctx, next)
	if err != nil {
		return "", err
	}
	// The server does not write an unchanged object, so its revision stays.
	if out.GetMeta().ResourceVersion == cm.ResourceVersion {
		return "unchanged", nil
	}
	return "configured", nil
}

func update(ctx context.Context, c *client.Client, m manifest) (string, error) {
	cur, err := c.Get(ctx, m.kind, client.ScopeOf(m.obj), m.obj.GetMeta().ID)
	if err != nil {
		return "", err
	}
	out, err := c.Update(ctx, m.obj)
	if err != nil {
		return "", err
	}
	if out.GetMeta().ResourceVersion == cur.GetMeta().ResourceVersion {
		return "unchanged", nil
	}
	return "updated", nil
}

// keepAnnotations adds to the file's annotations those the stored object
// has and the file does not mention: agents record state there (bridge
// names, download hosts) that a re-apply must not erase.
func keepAnnotations(file, stored map[string]string) map[string]string {
	if len(stored) == 0 {
		return file
	}
	out := make(map[string]string, len(file)+len(stored))
	for k, v := range stored {
		out[k] = v
	}
	for k, v := range file {
		out[k] = v
	}
	return out
}

// clone deep-copies an object so a retry starts from the file's content.
func clone(k *api.Kind, obj api.Object) (api.Object, error) {
	js, err := api.Encode(obj)
	if err != nil {
		return nil, err
	}
	cp := k.New()
	if err := json.Unmarshal(js, cp); err != nil {
		return nil, fmt.Errorf("copy %s: %w", k.Name, err)
	}
	return cp, nil
}
