return Backbones.Cli.BackbonesCli.Run(args, Console.Out, Console.Error);
