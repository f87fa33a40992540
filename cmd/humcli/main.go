// Command humcli is humstack's command-line client; see package cli.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/humstack/humstack/internal/cli"
)

func main() {
	// Cancelling the context on SIGINT/SIGTERM lets watch end cleanly and a
	// multi-object command stop between objects. After the first signal the
	// default handling is restored, so a second Ctrl-C kills a stuck run.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	context.AfterFunc(ctx, stop)
	code := cli.Main(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}
