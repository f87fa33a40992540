// Package doccheck keeps the documentation's flags true: it reads the
// flags humstack's programs print in their --help (Go flag and cobra
// formats) and the flags the Markdown docs mention, and reports flags that
// are printed but documented nowhere, and documented flags that do not
// exist. Its test runs the real apiserver, agent and humcli against
// README.md, DEVELOPERS.md and docs/*.md.
//
// What counts as a mention, so that the check is strict where it can be:
//   - in a code span or a line of a code block (not yaml, json or go), a
//     command whose program is one of ours (`./bin/humcli get vm -A`,
//     `sudo agent --config x`, `apiserver export ... | apiserver import
//     --store etcd`): every flag up to the next `|`, `&&`, `;` or `#` is
//     that program's (for humcli, of the subcommand named, or global);
//   - a code span or code-block line that starts with a flag (`--store
//     etcd`, the copy of a --help in a code block): a flag of any of our
//     programs;
//   - the first cell of a Markdown table whose first header is "flag": a
//     flag of the program named by the nearest heading above it, if one
//     is, else of any of ours.
//
// Flags of other programs are written after their program's name
// (`qemu-system-x86_64 -accel tcg`, `etcd --client-cert-auth`), which
// the check leaves alone.
package doccheck
