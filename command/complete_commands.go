package command

import "github.com/posener/complete"

// The cli.CommandAutocomplete methods of every command: arguments, then
// flags. Event and query names, and join addresses, cannot be known;
// force-leave and rtt take member names from the local agent.

func (c *AgentCommand) AutocompleteArgs() complete.Predictor { return complete.PredictNothing }
func (c *AgentCommand) AutocompleteFlags() complete.Flags    { return flagPredictors("agent") }

func (c *EventCommand) AutocompleteArgs() complete.Predictor { return complete.PredictAnything }
func (c *EventCommand) AutocompleteFlags() complete.Flags    { return flagPredictors("event") }

func (c *ForceLeaveCommand) AutocompleteArgs() complete.Predictor {
	return nodeNamePredictor{timeout: completionTimeout}
}
func (c *ForceLeaveCommand) AutocompleteFlags() complete.Flags { return flagPredictors("force-leave") }

func (c *InfoCommand) AutocompleteArgs() complete.Predictor { return complete.PredictNothing }
func (c *InfoCommand) AutocompleteFlags() complete.Flags    { return flagPredictors("info") }

func (c *JoinCommand) AutocompleteArgs() complete.Predictor { return complete.PredictAnything }
func (c *JoinCommand) AutocompleteFlags() complete.Flags    { return flagPredictors("join") }

func (c *KeygenCommand) AutocompleteArgs() complete.Predictor { return complete.PredictNothing }
func (c *KeygenCommand) AutocompleteFlags() complete.Flags    { return flagPredictors("keygen") }

func (c *KeysCommand) AutocompleteArgs() complete.Predictor { return complete.PredictNothing }
func (c *KeysCommand) AutocompleteFlags() complete.Flags    { return flagPredictors("keys") }

func (c *LeaveCommand) AutocompleteArgs() complete.Predictor { return complete.PredictNothing }
func (c *LeaveCommand) AutocompleteFlags() complete.Flags    { return flagPredictors("leave") }

func (c *MembersCommand) AutocompleteArgs() complete.Predictor { return complete.PredictNothing }
func (c *MembersCommand) AutocompleteFlags() complete.Flags    { return flagPredictors("members") }

func (c *MonitorCommand) AutocompleteArgs() complete.Predictor { return complete.PredictNothing }
func (c *MonitorCommand) AutocompleteFlags() complete.Flags    { return flagPredictors("monitor") }

func (c *QueryCommand) AutocompleteArgs() complete.Predictor { return complete.PredictAnything }
func (c *QueryCommand) AutocompleteFlags() complete.Flags    { return flagPredictors("query") }

func (c *ReachabilityCommand) AutocompleteArgs() complete.Predictor { return complete.PredictNothing }
func (c *ReachabilityCommand) AutocompleteFlags() complete.Flags {
	return flagPredictors("reachability")
}

func (c *RTTCommand) AutocompleteArgs() complete.Predictor {
	return nodeNamePredictor{timeout: completionTimeout}
}
func (c *RTTCommand) AutocompleteFlags() complete.Flags { return flagPredictors("rtt") }

func (c *TagsCommand) AutocompleteArgs() complete.Predictor { return complete.PredictNothing }
func (c *TagsCommand) AutocompleteFlags() complete.Flags    { return flagPredictors("tags") }

func (c *VersionCommand) AutocompleteArgs() complete.Predictor { return complete.PredictNothing }
func (c *VersionCommand) AutocompleteFlags() complete.Flags    { return flagPredictors("version") }
