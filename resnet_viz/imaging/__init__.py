"""Images in, activations out: decoding an upload safely and its preprocessing (:mod:`.images`), and the one
forward pass that keeps what the Feature-maps page shows (:mod:`.capture`)."""
