package placement

import "strconv"

var sizeUnits = []struct {
	suffix string
	shift  uint
}{{"T", 40}, {"G", 30}, {"M", 20}, {"K", 10}}

// FormatSize renders bytes in the largest binary unit that divides it
// exactly: 2<<30 is "2G", 1536<<20 is "1536M", 1000 is "1000". api.ParseSize
// reads it back to the same number.
func FormatSize(bytes int64) string {
	if bytes != 0 {
		for _, u := range sizeUnits {
			if bytes%(1<<u.shift) == 0 {
				return strconv.FormatInt(bytes>>u.shift, 10) + u.suffix
			}
		}
	}
	return strconv.FormatInt(bytes, 10)
}

// FormatMilliCPU renders millicores as "1500m"; api.ParseCPU reads it back.
func FormatMilliCPU(milli int64) string {
	return strconv.FormatInt(milli, 10) + "m"
}
