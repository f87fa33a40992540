package loadtest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// ModuleRoot returns the directory of the go.mod of the working directory's
// module (the benchmark runs in internal/loadtest).
func ModuleRoot(ctx context.Context) (string, error) {
	out, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	mod := strings.TrimSpace(string(out))
	if mod == "" || mod == os.DevNull {
		return "", errors.New("go env GOMOD: not inside a module")
	}
	return filepath.Dir(mod), nil
}

// Build compiles the apiserver of the module at root into outDir/name and
// returns the binary's path.
func Build(ctx context.Context, root, outDir, name string) (string, error) {
	return BuildPackage(ctx, root, "./cmd/apiserver", outDir, name)
}

// FloorPackage is the reference server's package (floorserver), relative to
// the module root.
const FloorPackage = "./internal/loadtest/floorserver"

// BuildPackage compiles the command pkg (relative to root, the module's
// root) into outDir/name and returns the binary's path.
func BuildPackage(ctx context.Context, root, pkg, outDir, name string) (string, error) {
	bin := filepath.Join(outDir, name)
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, pkg)
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build %s in %s: %w\n%s", pkg, root, err, out)
	}
	return bin, nil
}

// BuildRevision compiles the apiserver of git revision rev of the repository
// at root into outDir/name: the revision is checked out in a detached
// worktree under outDir, built, and the worktree removed again (also when
// the build fails), so the repository is left as it was.
func BuildRevision(ctx context.Context, root, rev, outDir, name string) (bin string, err error) {
	src := filepath.Join(outDir, "src-"+name)
	if out, err := git(ctx, root, "worktree", "add", "--detach", src, rev); err != nil {
		return "", fmt.Errorf("git worktree add %s: %w\n%s", rev, err, out)
	}
	defer func() {
		// A background context: the worktree goes even when ctx has ended.
		if out, rerr := git(context.Background(), root, "worktree", "remove", "--force", src); rerr != nil {
			err = errors.Join(err, fmt.Errorf("git worktree remove %s: %w\n%s", src, rerr, out))
		}
	}()
	return Build(ctx, src, outDir, name)
}

// RevisionName returns rev's short commit id and subject, for the log.
func RevisionName(ctx context.Context, root, rev string) (string, error) {
	out, err := git(ctx, root, "log", "-1", "--format=%h %s", rev)
	if err != nil {
		return "", fmt.Errorf("git log %s: %w\n%s", rev, err, out)
	}
	return strings.TrimSpace(string(out)), nil
}

func git(ctx context.Context, dir string, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, "git", args...)
	cmd.Dir = dir
	return cmd.CombinedOutput()
}
