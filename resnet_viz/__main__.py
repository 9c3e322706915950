from resnet_viz.cli import main

raise SystemExit(main())
