using System.CommandLine;
using Lab.Load.Cli;

var root = new RootCommand("Lab.Load benchmark driver") { LoadCommandFactory.Create() };
return await root.Parse(args).InvokeAsync();
