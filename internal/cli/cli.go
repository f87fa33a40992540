package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/client"
)

// errReported means the failures were already printed, one line each; Main
// only has to turn it into the exit code.
var errReported = errors.New("errors reported")

// app is the state of one invocation: its streams and global flags.
type app struct {
	stdin          io.Reader
	stdout, stderr io.Writer

	root   *cobra.Command
	global globalFlags
	// connected is the client built from flags and config on first use, so
	// `help` works even with an unreadable config file.
	connected *client.Client
}

// Main runs humcli with args (without the program name) and returns the
// process exit code: 0 on success, 1 on any failure.
func Main(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	a := &app{stdin: stdin, stdout: stdout, stderr: stderr}
	root := a.newRoot()
	root.SetArgs(args)
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	err := root.ExecuteContext(ctx)
	switch {
	case err == nil:
		return 0
	case !errors.Is(err, errReported):
		a.errorf("%s", message(err))
	}
	return 1
}

func (a *app) newRoot() *cobra.Command {
	root := &cobra.Command{
		Use:   "humstack",
		Short: "humstack cli",
		// Runtime errors are printed by Main as one line; cobra's usage dump
		// would bury them.
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	// The seed's usage lists no completion command.
	root.CompletionOptions.DisableDefaultCmd = true
	a.root = root
	a.global.register(root)
	root.AddCommand(
		a.createCmd(), a.applyCmd(), a.updateCmd(),
		a.deleteCmd(), a.getCmd(), a.watchCmd(),
		a.describeCmd(), a.labelCmd(),
		a.consoleCmd(), a.consoleLinkCmd(), a.configCmd(), a.loginCmd(), a.nodeCmd(),
		a.cordonCmd(true), a.cordonCmd(false), a.migrateCmd(), a.drainCmd(),
		a.envCmd(), a.snapshotCmd(),
	)
	return root
}

// errorf prints one error line on stderr.
func (a *app) errorf(format string, args ...any) {
	fmt.Fprintf(a.stderr, "error: "+format+"\n", args...)
}

// objectError prints the failure of one object. Server messages usually
// name the object already; it is not named twice.
func (a *app) objectError(name string, err error) {
	msg := message(err)
	if strings.Contains(msg, name) {
		a.errorf("%s", msg)
		return
	}
	a.errorf("%s: %s", name, msg)
}

// classes are the api error classes whose text the server appends to its
// messages ("... not found: not found"); the repetition is noise on a CLI.
var classes = []error{
	api.ErrNotFound, api.ErrAlreadyExists, api.ErrConflict, api.ErrInvalid,
	api.ErrGone, api.ErrUnauthorized, api.ErrForbidden, api.ErrUnavailable, api.ErrTooManyRequests,
}

// message renders an error for the user: one line, without a trailing
// class name that only repeats what the message says.
func message(err error) string {
	if errors.Is(err, client.ErrHTTPSRequired) {
		return httpsHint
	}
	if errors.Is(err, api.ErrUnauthorized) {
		// Whatever was being done, the answer is the same: the server's
		// one line ("token expired").
		err = innermost(err, api.ErrUnauthorized)
	}
	msg := oneLine(err.Error())
	for _, c := range classes {
		if errors.Is(err, c) {
			if trimmed, ok := strings.CutSuffix(msg, ": "+c.Error()); ok && trimmed != "" {
				return trimmed
			}
		}
	}
	return msg
}

// httpsHint is what to do when humcli spoke plain HTTP to an API server
// serving HTTPS (the default): use a context, or the CA and a token.
const httpsHint = "the API server serves HTTPS and humcli has no context for it: run " +
	"`humcli login --server https://HOST:PORT --ca-file CA.crt --token TOKEN` (the CA is " +
	"DATA-DIR/pki/ca.crt and the admin token DATA-DIR/admin.token on the API server's machine; " +
	"`make run` writes this context itself), or pass --ca-file and --token"

// oneLine keeps an error on one line whatever a server or file put in it.
func oneLine(s string) string {
	return strings.Join(strings.Fields(strings.ReplaceAll(s, "\n", " ")), " ")
}

// lookupKind resolves a KIND argument, naming every valid kind when it fails.
func lookupKind(name string) (*api.Kind, error) {
	k, err := api.LookupKind(name)
	if err == nil {
		return k, nil
	}
	var names []string
	for _, k := range api.Kinds() {
		n := k.Name
		if len(k.Aliases) > 0 {
			n += " (" + strings.Join(k.Aliases, ", ") + ")"
		}
		names = append(names, n)
	}
	return nil, fmt.Errorf("unknown kind %q; valid kinds (or their plurals or apiTypes): %s",
		name, strings.Join(names, ", "))
}

// kindArgs checks a command's KIND [ID...] arguments with a message that
// says what is missing, unlike cobra's "accepts 1 arg(s)".
func kindArgs(maxIDs int) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		switch {
		case len(args) == 0:
			return fmt.Errorf("%s needs a KIND, e.g. %s vm (see %s --help)", cmd.Name(), cmd.Name(), cmd.CommandPath())
		case maxIDs >= 0 && len(args) > 1+maxIDs:
			return fmt.Errorf("%s takes only a KIND, got extra arguments %q", cmd.Name(), args[1:])
		}
		return nil
	}
}

// fileArgs accepts files as arguments (the original humcli's spelling,
// next to -f), but refuses a kind where a file was meant: "create vm" is a
// mistake for which "stat vm: no such file" would be a poor answer.
func fileArgs(cmd *cobra.Command, args []string) error {
	for _, a := range args {
		if isKindNotPath(a) {
			return fmt.Errorf("%s takes files (FILE... or -f FILE), not a kind: %q is a kind and no file is named so", cmd.Name(), a)
		}
	}
	return nil
}

// isKindNotPath reports whether arg names a kind and no file or directory.
func isKindNotPath(arg string) bool {
	if _, err := api.LookupKind(arg); err != nil {
		return false
	}
	_, err := os.Stat(arg)
	return err != nil
}

// objectName names an object the way the server does: kind and scoped id,
// e.g. "virtualmachine group1/ns1/vm1".
func objectName(k *api.Kind, m *api.Meta) string {
	return k.Name + " " + scopedID(k, m)
}

func scopedID(k *api.Kind, m *api.Meta) string {
	switch k.Scope {
	case api.ScopeGroup:
		return m.Group + "/" + m.ID
	case api.ScopeNamespace:
		return m.Group + "/" + m.Namespace + "/" + m.ID
	}
	return m.ID
}

// interrupted reports whether the invocation was cancelled (SIGINT), after
// which no further object should be attempted.
func interrupted(ctx context.Context) bool { return ctx.Err() != nil }

// innermost is the deepest error in err's chain that still is class and
// is not class itself: the server's own message, without what the CLI
// wrapped around it.
func innermost(err, class error) error {
	for {
		next := errors.Unwrap(err)
		if next == nil || next == class || !errors.Is(next, class) {
			return err
		}
		err = next
	}
}
