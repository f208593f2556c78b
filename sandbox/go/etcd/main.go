// Command etcd is the upstream etcd server (go.etcd.io/etcd/server/v3/etcdmain), built from its
// published Go module for the tracing.xray sandbox.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() {
	etcdmain.Main(os.Args)
}
