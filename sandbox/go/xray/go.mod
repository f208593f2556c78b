// Wrapper module that builds the AWS X-Ray daemon for the local sandbox from the Go module proxy.
// The daemon's main package is a dependency's package here (no code of ours): sandbox/build.py runs
// `go build github.com/aws/aws-xray-daemon/daemon` inside this module. See sandbox/README.md for why
// this is 3.0.1 (the only version of the module the reachable Go proxy serves) and not 3.6.6.
module tracing.xray/sandbox/xray

go 1.26.0

require github.com/aws/aws-xray-daemon v3.0.1+incompatible

require (
	github.com/aws/aws-sdk-go v1.55.8 // indirect
	github.com/cihub/seelog v0.0.0-20170130134532-f561c5e57575 // indirect
	github.com/go-ole/go-ole v1.2.6 // indirect
	github.com/jmespath/go-jmespath v0.4.0 // indirect
	github.com/shirou/gopsutil v3.21.11+incompatible // indirect
	github.com/stretchr/testify v1.12.1 // indirect
	github.com/yusufpapurcu/wmi v1.2.4 // indirect
	golang.org/x/net v0.62.0 // indirect
	golang.org/x/sys v0.49.0 // indirect
	golang.org/x/text v0.43.0 // indirect
	gopkg.in/yaml.v2 v2.4.0 // indirect
)
