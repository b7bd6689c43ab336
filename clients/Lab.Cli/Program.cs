using Lab.Cli;

return await LabCommands.CreateRoot().Parse(args).InvokeAsync();
