using System.CommandLine;
using Lab.Load.Cli;

// Before any socket is used: this process only runs the load client.
LoadCommandFactory.UseInlineSocketCompletions();
var root = new RootCommand("Lab.Load benchmark driver") { LoadCommandFactory.Create() };
return await root.Parse(args).InvokeAsync();
