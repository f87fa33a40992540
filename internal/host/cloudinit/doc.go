// Package cloudinit renders the cloud-init NoCloud seed of a VM: the
// meta-data, user-data and network-config files and the ISO 9660 image
// labelled "cidata" that carries them (SPEC §3).
//
// The renderers are pure: the same input gives the same bytes, which the
// golden tests under testdata/ pin down (go test -update rewrites them).
// Every value that comes from a user — host names, user names, SSH keys —
// goes through a YAML encoder, never through string concatenation, so no
// input can add keys or documents to a seed; the fuzz tests check that the
// output parses back to exactly the input.
package cloudinit

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/humstack/humstack/api"
)

// Names of the seed files and the volume label cloud-init looks for.
const (
	MetaDataFile      = "meta-data"
	UserDataFile      = "user-data"
	NetworkConfigFile = "network-config"
	VolumeLabel       = "cidata"
)

// checkText rejects what a YAML round trip or a cloud-init consumer cannot
// carry faithfully: an empty value, invalid UTF-8 (the encoder would turn it
// into !!binary) and control characters (a line break inside an SSH key
// would split an authorized_keys line).
func checkText(field, v string) error {
	switch {
	case v == "":
		return fmt.Errorf("%s: required: %w", field, api.ErrInvalid)
	case !utf8.ValidString(v):
		return fmt.Errorf("%s: not valid UTF-8: %w", field, api.ErrInvalid)
	case strings.ContainsFunc(v, unicode.IsControl):
		return fmt.Errorf("%s: contains a control character: %w", field, api.ErrInvalid)
	}
	return nil
}
