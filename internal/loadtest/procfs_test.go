package loadtest

import (
	"encoding/binary"
	"testing"
)

func TestParseStatTicks(t *testing.T) {
	for _, tc := range []struct {
		name, line string
		want       int64
		bad        bool
	}{
		{name: "plain", want: 1234 + 56,
			line: "4242 (apiserver) S 1 4242 4242 0 -1 4194560 1000 0 0 0 1234 56 0 0 20 0 9 0 100 1000000 2000 18446744073709551615\n"},
		{name: "command with spaces and parens", want: 7 + 8,
			line: "7 (a b) c) (d) R 1 7 7 0 -1 0 0 0 0 0 7 8 9 10 20 0 1 0 5 0 0 0\n"},
		{name: "no command", line: "7 a R 1", bad: true},
		{name: "short", line: "7 (a) R 1 2 3", bad: true},
		{name: "not a number", line: "7 (a) R 1 7 7 0 -1 0 0 0 0 0 x 8 9\n", bad: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseStatTicks([]byte(tc.line))
			if tc.bad != (err != nil) || got != tc.want {
				t.Errorf("got %d, %v; want %d (error: %v)", got, err, tc.want, tc.bad)
			}
		})
	}
}

func TestParseStatusMem(t *testing.T) {
	status := "Name:\tapiserver\nVmPeak:\t 2000 kB\nVmHWM:\t   65536 kB\nVmRSS:\t   32768 kB\n" +
		"RssAnon:\t   20480 kB\nRssFile:\t   12288 kB\nRssShmem:\t       0 kB\nThreads:\t9\n"
	m, err := parseStatusMem([]byte(status))
	if err != nil || m != (Mem{RSS: 32 << 20, HWM: 64 << 20, Anon: 20 << 20, FilePage: 12 << 20}) {
		t.Errorf("got %+v, %v", m, err)
	}
	for _, bad := range []string{"Name:\tx\n", "VmHWM:\t1 kB\nVmRSS:\t1 kB\n", "VmHWM:\t1 kB\nVmRSS:\t1 MB\nRssAnon:\t1 kB\nRssFile:\t1 kB\n",
		"VmHWM:\tx kB\nVmRSS:\t1 kB\nRssAnon:\t1 kB\nRssFile:\t1 kB\n"} {
		if m, err := parseStatusMem([]byte(bad)); err == nil {
			t.Errorf("%q: got %+v, want an error", bad, m)
		}
	}
}

func TestParseAuxvClkTck(t *testing.T) {
	auxv := func(pairs ...uint64) []byte {
		var b []byte
		for _, v := range pairs {
			b = binary.NativeEndian.AppendUint64(b, v)
		}
		return b
	}
	if hz, err := parseAuxvClkTck(auxv(6, 4096, atClkTck, 250, 0, 0)); err != nil || hz != 250 {
		t.Errorf("got %d, %v; want 250", hz, err)
	}
	// After AT_NULL nothing counts.
	if hz, err := parseAuxvClkTck(auxv(6, 4096, 0, 0, atClkTck, 100)); err == nil {
		t.Errorf("got %d, want an error", hz)
	}
}

func TestParseMetric(t *testing.T) {
	text := "# HELP go_memstats_heap_inuse_bytes x\ngo_memstats_heap_inuse_bytes_total 1\ngo_memstats_heap_inuse_bytes 1.2345678e+07\n"
	if v, err := parseMetric(text, "go_memstats_heap_inuse_bytes"); err != nil || v != 12345678 {
		t.Errorf("got %d, %v", v, err)
	}
	if _, err := parseMetric(text, "absent"); err == nil {
		t.Error("absent metric: no error")
	}
}

func TestParseSmapsRSS(t *testing.T) {
	smaps := `00400000-00a00000 r-xp 00000000 08:01 11 /usr/bin/apiserver
Size:               6144 kB
Rss:                4096 kB
7f0000000000-7f0008000000 r--s 00000000 08:01 12 /tmp/x/data/humstack.db
Size:             131072 kB
Rss:               20480 kB
Pss:               20480 kB
7f0010000000-7f0010100000 rw-p 00000000 00:00 0 
Rss:                1024 kB
7f0020000000-7f0020100000 r--s 00000000 08:01 13 /tmp/x/data2/other.db
Rss:                 512 kB
7f0030000000-7f0030100000 r--s 00000000 08:01 14 /tmp/x/data/with space.db
Rss:                   8 kB
VmFlags: rd sh mr mw me ms sd
`
	got, err := parseSmapsRSS([]byte(smaps), "/tmp/x/data/")
	if want := int64(20480+8) << 10; err != nil || got != want {
		t.Errorf("got %d, %v; want %d", got, err, want)
	}
}
