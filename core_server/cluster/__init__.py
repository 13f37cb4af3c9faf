"""A studio's scale-out: the gRPC front hands jobs to engines running as Ray Serve deployments.

Imported only by `cocreate serve --cluster`: the single-machine daemon never imports Ray."""
