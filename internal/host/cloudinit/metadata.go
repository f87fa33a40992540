package cloudinit

import (
	"fmt"
	"regexp"
	"strings"

	yaml "go.yaml.in/yaml/v2"

	"github.com/humstack/humstack/api"
)

// metaData is the NoCloud meta-data document. cloud-init reads the host
// name from local-hostname; instance-id changing is what makes it run its
// per-instance modules again.
type metaData struct {
	InstanceID    string `yaml:"instance-id"`
	LocalHostname string `yaml:"local-hostname"`
}

// MetaData renders the meta-data file.
func MetaData(instanceID, hostname string) ([]byte, error) {
	if err := checkText("instance-id", instanceID); err != nil {
		return nil, err
	}
	if !IsHostname(hostname) {
		return nil, fmt.Errorf("hostname %q is not an RFC 1123 host name of at most %d characters: %w",
			hostname, maxHostname, api.ErrInvalid)
	}
	return marshal(metaData{InstanceID: instanceID, LocalHostname: hostname})
}

// maxHostname is the kernel's limit (HOST_NAME_MAX is 64 including the NUL):
// a longer name would be valid DNS but could not be set in the guest.
const maxHostname = 63

var hostLabelRe = regexp.MustCompile(`^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?$`)

// IsHostname reports whether s is an RFC 1123 host name short enough to be
// a Linux host name.
func IsHostname(s string) bool {
	if s == "" || len(s) > maxHostname {
		return false
	}
	for l := range strings.SplitSeq(s, ".") {
		if !hostLabelRe.MatchString(l) {
			return false
		}
	}
	return true
}

// Hostname chooses a VM's host name as SPEC §3 says: spec.hostname when
// given, else meta.name when it is a valid host name, else meta.id.
func Hostname(specHostname, name, id string) string {
	switch {
	case specHostname != "":
		return specHostname
	case IsHostname(name):
		return name
	default:
		return id
	}
}

// marshal encodes v with go-yaml v2 on purpose: it follows YAML 1.1 like
// cloud-init's PyYAML, so it quotes what 1.1 would misread ("yes", the
// sexagesimal-looking MAC 52:54:00:00:00:02), where a YAML 1.2 encoder
// would not. It only fails on types it cannot encode, a bug here.
func marshal(v any) ([]byte, error) {
	out, err := yaml.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("encode yaml: %w", err)
	}
	return out, nil
}
