module github.com/humstack/humstack

go 1.26.0

require (
	github.com/coder/websocket v1.8.15
	github.com/goccy/go-json v0.10.5
	github.com/spf13/cobra v1.10.2
	go.etcd.io/bbolt v1.4.3
	golang.org/x/term v0.48.0
	sigs.k8s.io/yaml v1.6.0
)

require github.com/creack/pty v1.1.24 // indirect

require (
	github.com/google/go-cmp v0.6.0 // indirect
	github.com/google/nftables v0.3.0
	github.com/inconshreveable/mousetrap v1.1.0 // indirect
	github.com/kdomanski/iso9660 v0.4.0 // indirect
	github.com/mdlayher/netlink v1.7.3-0.20250113171957-fbb4dce95f42 // indirect
	github.com/mdlayher/socket v0.5.0 // indirect
	github.com/spf13/pflag v1.0.9 // indirect
	github.com/vishvananda/netlink v1.3.1 // indirect
	github.com/vishvananda/netns v0.0.5 // indirect
	go.yaml.in/yaml/v2 v2.4.2 // indirect
	golang.org/x/crypto v0.59.0 // indirect
	golang.org/x/net v0.62.0 // indirect
	golang.org/x/sync v0.10.0 // indirect
	golang.org/x/sys v0.50.0 // indirect
)
