package debian

import (
	"maps"
	"testing"
	"testing/fstest"
)

const policyOut = `cloud-init:
  Installed: (none)
  Candidate: 22.4.2-1+deb12u4
  Version table:
     22.4.2-1+deb12u4 500
        500 http://deb.debian.org/debian bookworm/main amd64 Packages
linux-image-cloud-amd64:
  Installed: (none)
  Candidate: 6.1.192-2
  Version table:
     6.1.192-2 500
        500 http://deb.debian.org/debian-security bookworm-security/main amd64 Packages
`

func TestParsePolicy(t *testing.T) {
	got := parsePolicy(policyOut)
	want := map[string]string{"cloud-init": "22.4.2-1+deb12u4", "linux-image-cloud-amd64": "6.1.192-2"}
	if !maps.Equal(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}

// TestKeyChanges checks that the key is stable for equal inputs and moves
// with each input that changes the image.
func TestKeyChanges(t *testing.T) {
	base := func() keyInputs {
		return keyInputs{
			Recipe:    "r1",
			Sources:   []string{"deb http://m/debian bookworm main"},
			Packages:  []string{"cloud-init", "sudo"},
			Versions:  map[string]string{"cloud-init": "22.4", "sudo": "1.9"},
			HostTools: map[string]string{"grub-pc-bin": "2.06"},
		}
	}
	k := base().key()
	if k != base().key() {
		t.Fatal("equal inputs give different keys")
	}
	changes := map[string]func(*keyInputs){
		"recipe":  func(in *keyInputs) { in.Recipe = "r2" },
		"mirror":  func(in *keyInputs) { in.Sources = []string{"deb http://other/debian bookworm main"} },
		"package": func(in *keyInputs) { in.Packages = append(in.Packages, "vim") },
		"version": func(in *keyInputs) { in.Versions["cloud-init"] = "22.5" },
		"tool":    func(in *keyInputs) { in.HostTools["grub-pc-bin"] = "2.12" },
	}
	for name, change := range changes {
		in := base()
		change(&in)
		if in.key() == k {
			t.Errorf("changing the %s keeps the key", name)
		}
	}
}

func TestRecipeHash(t *testing.T) {
	fsys := fstest.MapFS{
		"build.go":      {Data: []byte("package debian")},
		"files/fstab":   {Data: []byte("LABEL=root / ext4")},
		"build_test.go": {Data: []byte("package debian // test")},
	}
	h1, err := recipeHash(fsys)
	if err != nil {
		t.Fatal(err)
	}
	fsys["more_test.go"] = &fstest.MapFile{Data: []byte("package debian")}
	if h2, _ := recipeHash(fsys); h2 != h1 {
		t.Error("a test file changes the recipe hash")
	}
	fsys["files/fstab"] = &fstest.MapFile{Data: []byte("LABEL=root / ext4 ro")}
	if h3, _ := recipeHash(fsys); h3 == h1 {
		t.Error("a changed build file keeps the recipe hash")
	}
	if _, err := recipe.ReadFile("files/90_humstack.cfg"); err != nil {
		t.Errorf("recipe lacks the cloud-init config: %v", err)
	}
}
