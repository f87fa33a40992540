package cli

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/client"
)

// maxLinkTTL bounds --ttl: a console link is for an event, not for good.
const maxLinkTTL = 366 * 24 * time.Hour

type consoleLinkFlags struct {
	ttl    time.Duration
	revoke string
	list   bool
	all    bool
	power  bool
}

func (a *app) consoleLinkCmd() *cobra.Command {
	var f consoleLinkFlags
	cmd := &cobra.Command{
		Use:   "console-link VM | --all | --list [VM] | --revoke ID",
		Short: "Hand out a URL that opens one virtual machine's console (or every one of a namespace) until it expires",
		Long: "Create a console link to virtual machine VM in the --g/--n scope: URLs that open\n" +
			"that VM's serial console, VNC console and console log, and nothing else, for\n" +
			"--ttl. --all instead links every VM of the namespace (a team's link: its web\n" +
			"console page lists them); --power lets the link power its VMs on and off.\n" +
			"Whoever holds a URL needs no other credential; the token in it is shown only\n" +
			"now. --list lists the scope's links (of VM, if given); --revoke ID deletes\n" +
			"link ID: its URLs stop at once, its open consoles within seconds.",
		Args: func(cmd *cobra.Command, args []string) error {
			switch {
			case f.revoke != "" && (len(args) > 0 || f.list || f.all):
				return fmt.Errorf("console-link --revoke ID takes no VM, no --list and no --all")
			case f.all && (len(args) > 0 || f.list):
				return fmt.Errorf("console-link --all links every VM of the namespace: it takes no VM and no --list")
			case !f.list && f.revoke == "" && !f.all && len(args) != 1:
				return fmt.Errorf("console-link needs exactly one VM id, e.g. console-link vm1 --ttl 2h, or --all (got %d arguments)", len(args))
			case len(args) > 1:
				return fmt.Errorf("console-link --list takes at most one VM id")
			case f.ttl <= 0 || f.ttl > maxLinkTTL:
				return fmt.Errorf("--ttl %v: want more than 0 and at most %v", f.ttl, maxLinkTTL)
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			c, err := a.client()
			if err != nil {
				return err
			}
			sc := a.scope(api.ConsoleLinkKind, false)
			switch {
			case f.revoke != "":
				return a.revokeLink(cmd.Context(), c, sc, f.revoke)
			case f.list:
				return a.listLinks(cmd.Context(), c, sc, args)
			}
			spec := api.ConsoleLinkSpec{AllVirtualMachines: f.all, Power: f.power,
				ExpiresAt: time.Now().Add(f.ttl).UTC().Format(time.RFC3339)}
			if !f.all {
				spec.VirtualMachineID = args[0]
			}
			return a.createLink(cmd.Context(), c, sc, spec)
		},
	}
	cmd.Flags().DurationVar(&f.ttl, "ttl", time.Hour, "how long the link works, e.g. 30m, 2h")
	cmd.Flags().StringVar(&f.revoke, "revoke", "", "delete (revoke) console link ID")
	cmd.Flags().BoolVar(&f.list, "list", false, "list the console links of the scope")
	cmd.Flags().BoolVar(&f.all, "all", false, "link every virtual machine of the namespace (no VM argument)")
	cmd.Flags().BoolVar(&f.power, "power", false, "let the link also power its virtual machines on and off")
	return cmd
}

func (a *app) createLink(ctx context.Context, c *client.Client, sc client.Scope, spec api.ConsoleLinkSpec) error {
	vm := spec.VirtualMachineID
	what := "every virtualmachine of " + sc.Group + "/" + sc.Namespace
	l := api.ConsoleLinkKind.New().(*api.ConsoleLink)
	l.Meta.ID, l.Meta.Group, l.Meta.Namespace, l.Spec = linkID("all"), sc.Group, sc.Namespace, spec
	if !spec.AllVirtualMachines {
		what = objectName(api.VirtualMachineKind, &api.Meta{ID: vm, Group: sc.Group, Namespace: sc.Namespace})
		if !api.IsID(vm) {
			return fmt.Errorf("%s: %q is not a virtual machine id", what, vm)
		}
		// The VM must exist now; a link to nothing would be a puzzle later.
		if _, err := c.Get(ctx, api.VirtualMachineKind, sc, vm); err != nil {
			return naming(what, "", err)
		}
		l.Meta.ID = linkID(vm)
	}
	out, err := c.Create(ctx, l)
	if err != nil {
		return naming(objectName(api.ConsoleLinkKind, &l.Meta), "", err)
	}
	st := out.(*api.ConsoleLink).Status
	if st.Token == "" {
		return fmt.Errorf("the API server answered the console link without a token (an older server?)")
	}
	base := c.BaseURL()
	ws := "ws" + strings.TrimPrefix(base, "http") // http -> ws, https -> wss
	power := ""
	if spec.Power {
		power = " (and powers it on and off)"
		if spec.AllVirtualMachines {
			power = " (and powers them on and off)"
		}
	}
	fmt.Fprintf(a.stdout, "consolelink %s opens %s%s until %s\n", l.Meta.ID, what, power, l.Spec.ExpiresAt)
	if spec.AllVirtualMachines {
		vms := "/api/v0/groups/" + sc.Group + "/namespaces/" + sc.Namespace + "/" + api.VirtualMachineKind.Plural
		fmt.Fprintf(a.stdout, "serial: %s%s/VM/serial?link=%s (any VM of the namespace)\n", ws, vms, st.Token)
	} else {
		fmt.Fprintf(a.stdout, "serial: %s%s\nvnc:    %s%s\nlog:    %s%s\n", ws, st.SerialURL, ws, st.VNCURL, base, st.LogURL)
	}
	if st.UIURL != "" {
		fmt.Fprintf(a.stdout, "ui:     %s%s\n", base, st.UIURL)
	}
	fmt.Fprintf(a.stdout, "The token is shown only now. Revoke: humcli console-link --revoke %s -g %s -n %s\n",
		l.Meta.ID, sc.Group, sc.Namespace)
	return nil
}

// linkID names a new link after its VM, with a random suffix so several
// links to one VM can be handed out and revoked one by one.
func linkID(vm string) string {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return vm[:min(len(vm), 54)] + "-" + hex.EncodeToString(b[:])
}

func (a *app) listLinks(ctx context.Context, c *client.Client, sc client.Scope, args []string) error {
	objs, _, err := c.List(ctx, api.ConsoleLinkKind, sc)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(a.stdout, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tVM\tPOWER\tEXPIRES\tSTATE")
	now := time.Now()
	for _, o := range objs {
		l := o.(*api.ConsoleLink)
		if len(args) == 1 && l.Spec.VirtualMachineID != args[0] && !l.Spec.AllVirtualMachines {
			continue
		}
		vm := l.Spec.VirtualMachineID
		if l.Spec.AllVirtualMachines {
			vm = "(all)"
		}
		state := "active"
		if exp, err := time.Parse(time.RFC3339, l.Spec.ExpiresAt); err != nil || !now.Before(exp) {
			state = "expired"
		}
		fmt.Fprintf(tw, "%s\t%s\t%t\t%s\t%s\n", l.Meta.ID, vm, l.Spec.Power, l.Spec.ExpiresAt, state)
	}
	return tw.Flush()
}

func (a *app) revokeLink(ctx context.Context, c *client.Client, sc client.Scope, id string) error {
	name := objectName(api.ConsoleLinkKind, &api.Meta{ID: id, Group: sc.Group, Namespace: sc.Namespace})
	if _, err := c.Delete(ctx, api.ConsoleLinkKind, sc, id, client.DeleteOptions{}); err != nil {
		return naming(name, "", err)
	}
	fmt.Fprintf(a.stdout, "%s revoked\n", name)
	return nil
}
