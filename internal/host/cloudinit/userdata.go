package cloudinit

import (
	"fmt"
	"regexp"

	"github.com/humstack/humstack/api"
)

// cloudConfigHeader is the first line cloud-init requires to treat
// user-data as cloud-config.
const cloudConfigHeader = "#cloud-config\n"

// User defaults every login user gets: passwordless sudo because the only
// way in is the SSH key, and bash as on every cloud image.
const (
	userSudo  = "ALL=(ALL) NOPASSWD:ALL"
	userShell = "/bin/bash"
)

type cloudConfig struct {
	Users []cloudUser `yaml:"users"`
	// SSHPwauth false disables password logins in sshd: keys only.
	SSHPwauth bool `yaml:"ssh_pwauth"`
}

type cloudUser struct {
	Name              string   `yaml:"name"`
	SSHAuthorizedKeys []string `yaml:"ssh_authorized_keys"`
	Sudo              string   `yaml:"sudo"`
	Shell             string   `yaml:"shell"`
}

// userRe is useradd's default NAME_REGEX without machine accounts' '$';
// the same rule the API validates spec.loginUsers with.
var userRe = regexp.MustCompile(`^[a-z_][a-z0-9_-]{0,31}$`)

// UserData renders the user-data file: a #cloud-config with one account per
// login user and password logins disabled. An empty list renders "users: []",
// which tells cloud-init to create no accounts, not even the image's default.
func UserData(users []api.LoginUser) ([]byte, error) {
	cc := cloudConfig{Users: []cloudUser{}}
	seen := map[string]bool{}
	for i, u := range users {
		if !userRe.MatchString(u.Username) {
			return nil, fmt.Errorf("loginUsers[%d].username %q is not a valid user name: %w", i, u.Username, api.ErrInvalid)
		}
		if seen[u.Username] {
			return nil, fmt.Errorf("loginUsers[%d].username %q is given twice: %w", i, u.Username, api.ErrInvalid)
		}
		seen[u.Username] = true
		keys := make([]string, 0, len(u.SSHAuthorizedKeys))
		for j, k := range u.SSHAuthorizedKeys {
			if err := checkText(fmt.Sprintf("loginUsers[%d].sshAuthorizedKeys[%d]", i, j), k); err != nil {
				return nil, err
			}
			keys = append(keys, k)
		}
		cc.Users = append(cc.Users, cloudUser{Name: u.Username, SSHAuthorizedKeys: keys, Sudo: userSudo, Shell: userShell})
	}
	body, err := marshal(cc)
	if err != nil {
		return nil, err
	}
	return append([]byte(cloudConfigHeader), body...), nil
}
