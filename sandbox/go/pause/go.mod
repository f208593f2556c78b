// The sandbox's pause image binary (registry.k8s.io/pause:3.10 is imported under that name, built from
// this): PID 1 of every pod sandbox on the real node. No dependencies. See sandbox/images.py.
module tracing.xray/sandbox/pause

go 1.24
