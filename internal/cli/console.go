package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/coder/websocket"
	"github.com/spf13/cobra"
	"golang.org/x/term"

	"github.com/humstack/humstack/api"
	"github.com/humstack/humstack/client"
)

// escapeByte is Ctrl-], telnet's and virsh's escape: it never reaches the VM.
const escapeByte = 0x1d

// consoleLinger is how long console keeps printing after its input ended
// (a pipe, not a terminal) once the VM has gone quiet.
const consoleLinger = time.Second

func (a *app) consoleCmd() *cobra.Command {
	var showLog bool
	var link string
	cmd := &cobra.Command{
		Use:   "console VM",
		Short: "Attach to a virtual machine's serial console, or print its log",
		Long: "Attach to the serial console of virtual machine VM in the --g/--n scope, through\n" +
			"the API server. The last few KiB of output are shown first, so the current\n" +
			"prompt appears. On a terminal, keys go to the VM as typed (raw mode); Ctrl-]\n" +
			"leaves. With input from a pipe, the input is sent and console exits once the\n" +
			"input has ended and the VM has been quiet for a second.\n\n" +
			"--log prints the console log the VM's node keeps (its last MiBs of output).\n\n" +
			"--link URL opens the console of a console link (see console-link) instead of VM:\n" +
			"any of the link's URLs, no other credential needed.",
		Args: func(cmd *cobra.Command, args []string) error {
			if link != "" {
				if len(args) > 0 {
					return fmt.Errorf("console --link URL takes no VM: the link names it")
				}
				return nil
			}
			if len(args) != 1 {
				return fmt.Errorf("console needs exactly one VM id, e.g. console vm1 (got %d arguments)", len(args))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			if link != "" {
				return a.linkConsole(cmd.Context(), link, showLog)
			}
			c, err := a.client()
			if err != nil {
				return err
			}
			sc := a.scope(api.VirtualMachineKind, false)
			name := objectName(api.VirtualMachineKind, &api.Meta{ID: args[0], Group: sc.Group, Namespace: sc.Namespace})
			if showLog {
				return a.printConsoleLog(cmd.Context(), c, sc, args[0], name)
			}
			return a.attachConsole(cmd.Context(), c, sc, args[0], name)
		},
	}
	cmd.Flags().BoolVar(&showLog, "log", false, "print the console log instead of attaching")
	cmd.Flags().StringVar(&link, "link", "", "open the console of this console link URL instead of a VM's")
	return cmd
}

func (a *app) printConsoleLog(ctx context.Context, c *client.Client, sc client.Scope, id, name string) error {
	rc, err := c.ConsoleLog(ctx, sc, id)
	if err != nil {
		return naming(name, "console log of ", err)
	}
	defer rc.Close()
	if _, err := io.Copy(a.stdout, rc); err != nil {
		return fmt.Errorf("console log of %s: %w", name, err)
	}
	return nil
}

// naming prefixes err with what failed unless the server's message names
// the VM already.
func naming(name, what string, err error) error {
	if strings.Contains(err.Error(), name) {
		return err
	}
	return fmt.Errorf("%s%s: %w", what, name, err)
}

// inputEnd says why the input pump stopped.
type inputEnd int

const (
	inputEscape inputEnd = iota // Ctrl-]
	inputEOF                    // stdin ended
	inputFailed                 // the websocket write failed
)

func (a *app) attachConsole(ctx context.Context, c *client.Client, sc client.Scope, id, name string) error {
	conn, err := c.DialConsole(ctx, sc, id)
	if err != nil {
		return naming(name, "console of ", err)
	}
	return a.consoleSession(ctx, conn, name)
}

// linkConsole attaches to (or with showLog prints the log of) the console
// a console link opens.
func (a *app) linkConsole(ctx context.Context, link string, showLog bool) error {
	if showLog {
		rc, err := client.ConsoleLinkLog(ctx, link)
		if err != nil {
			return err
		}
		defer rc.Close()
		if _, err := io.Copy(a.stdout, rc); err != nil {
			return fmt.Errorf("console log of the link: %w", err)
		}
		return nil
	}
	conn, err := client.DialConsoleLink(ctx, link)
	if err != nil {
		return err
	}
	return a.consoleSession(ctx, conn, "the link's VM")
}

// consoleSession runs an attached console until the user leaves, the input
// ends or the server closes it.
func (a *app) consoleSession(ctx context.Context, conn *websocket.Conn, name string) error {
	defer conn.CloseNow()
	fmt.Fprintln(a.stderr, "Connected to VM; escape with Ctrl-]")
	if restore := a.rawTerminal(); restore != nil {
		defer restore()
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	output := make(chan struct{}, 1) // a message arrived
	outDone := make(chan error, 1)
	go func() { outDone <- a.pumpOutput(ctx, conn, output) }()
	inDone := make(chan inputEnd, 1)
	go func() { inDone <- a.pumpInput(ctx, conn) }()

	var result error
	select {
	case err := <-outDone:
		outDone <- err
		result = closedError(name, err)
	case end := <-inDone:
		if end == inputEOF {
			result = lingerUntilQuiet(ctx, output, outDone, name)
		}
	case <-ctx.Done():
	}
	conn.Close(websocket.StatusNormalClosure, "")
	cancel()
	<-outDone // no write to stdout after return
	fmt.Fprint(a.stderr, "\r\nDisconnected.\r\n")
	return result
}

// lingerUntilQuiet waits, after the input ended, until the VM has printed
// nothing for consoleLinger or the server closed the console.
func lingerUntilQuiet(ctx context.Context, output <-chan struct{}, outDone chan error, name string) error {
	quiet := time.NewTimer(consoleLinger)
	defer quiet.Stop()
	for {
		select {
		case <-output:
			quiet.Reset(consoleLinger)
		case <-quiet.C:
			return nil
		case err := <-outDone:
			outDone <- err
			return closedError(name, err)
		case <-ctx.Done():
			return nil
		}
	}
}

// closedError explains the server ending a session; a normal close or one
// the user caused is none.
func closedError(name string, err error) error {
	switch websocket.CloseStatus(err) {
	case websocket.StatusNormalClosure:
		return nil
	case websocket.StatusGoingAway:
		return fmt.Errorf("console of %s closed: the VM's console stopped (deleted or moved?)", name)
	case websocket.StatusPolicyViolation: // a console link expired or was revoked
		var ce websocket.CloseError
		if errors.As(err, &ce) {
			return fmt.Errorf("console of %s closed: %s", name, ce.Reason)
		}
	}
	if errors.Is(err, context.Canceled) {
		return nil
	}
	return fmt.Errorf("console of %s: connection lost: %v", name, err)
}

// pumpOutput copies console messages to stdout and pokes output for each.
func (a *app) pumpOutput(ctx context.Context, conn *websocket.Conn, output chan<- struct{}) error {
	for {
		_, data, err := conn.Read(ctx)
		if err != nil {
			return err
		}
		if _, err := a.stdout.Write(data); err != nil {
			return err
		}
		select {
		case output <- struct{}{}:
		default:
		}
	}
}

// pumpInput sends stdin to the console until Ctrl-], the end of stdin or
// a failed write. The read of stdin may outlive the session (a terminal
// read cannot be interrupted); the process is about to exit then.
func (a *app) pumpInput(ctx context.Context, conn *websocket.Conn) inputEnd {
	buf := make([]byte, 4096)
	for {
		n, err := a.stdin.Read(buf)
		data := buf[:n]
		escaped := false
		if i := bytes.IndexByte(data, escapeByte); i >= 0 {
			data, escaped = data[:i], true
		}
		if len(data) > 0 {
			if conn.Write(ctx, websocket.MessageBinary, data) != nil {
				return inputFailed
			}
		}
		switch {
		case escaped:
			return inputEscape
		case err != nil:
			return inputEOF
		}
	}
}

// rawTerminal puts stdin in raw mode when it is a terminal, so that every
// key (Ctrl-C, arrows, tab) goes to the VM; it returns the restore
// function, or nil when stdin is not a terminal.
func (a *app) rawTerminal() func() {
	f, ok := a.stdin.(*os.File)
	if !ok || !term.IsTerminal(int(f.Fd())) {
		return nil
	}
	state, err := term.MakeRaw(int(f.Fd()))
	if err != nil {
		fmt.Fprintf(a.stderr, "warning: cannot put the terminal in raw mode: %v\n", err)
		return nil
	}
	return func() { _ = term.Restore(int(f.Fd()), state) }
}
