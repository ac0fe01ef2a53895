package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"
)

// App is a Function App as the host sees it: host.json, every function.json
// and the app settings.
type App struct {
	Dir       string
	Host      HostConfig
	Functions []*Function
	Settings  Settings
}

// HostConfig holds the parts of host.json the dev host honours.
type HostConfig struct {
	Handler               string        // customHandler.description.defaultExecutablePath
	HandlerArgs           []string      // customHandler.description.arguments
	HandlerWorkDir        string        // customHandler.description.workingDirectory
	ForwardHTTP           bool          // customHandler.enableForwardingHttpRequest
	RoutePrefix           string        // extensions.http.routePrefix
	HTTPThrottle          HTTPThrottle  // extensions.http.maxConcurrentRequests / maxOutstandingRequests
	FunctionTimeout       time.Duration // functionTimeout
	Queues                QueueOptions
	EventHubMaxBatchSize  int // extensions.eventHubs.maxEventBatchSize
	hasCustomHandlerBlock bool
}

// HTTPThrottle mirrors the host's HTTP request queue (host.json
// extensions.http): at most MaxConcurrent HTTP function invocations run at
// once and the rest wait, up to MaxOutstanding requests held in all
// (running and waiting); one more is refused with 429 at once. -1 (or
// absent) is unbounded, the host's default on a dedicated plan; on the
// Consumption plan the host defaults to 100 and 200.
type HTTPThrottle struct {
	MaxConcurrent  int
	MaxOutstanding int
}

// QueueOptions mirrors host.json extensions.queues.
type QueueOptions struct {
	MaxDequeueCount    int
	VisibilityTimeout  time.Duration // delay before a failed message is retried
	BatchSize          int
	MessageEncoding    string // "base64" or "none"
	MaxPollingInterval time.Duration
}

// Function is one function folder.
type Function struct {
	Name     string
	Dir      string
	Trigger  Binding
	Bindings []Binding
	Disabled bool
	HasRetry bool // function.json has a "retry" policy (not applied by the dev host)
}

// Binding is one entry of function.json "bindings"; only the fields the
// triggers we host use are kept.
type Binding struct {
	Type          string   `json:"type"`
	Direction     string   `json:"direction"`
	Name          string   `json:"name"`
	AuthLevel     string   `json:"authLevel"`
	Methods       []string `json:"methods"`
	Route         string   `json:"route"`
	Schedule      string   `json:"schedule"`
	RunOnStartup  bool     `json:"runOnStartup"`
	QueueName     string   `json:"queueName"`
	Connection    string   `json:"connection"`
	EventHubName  string   `json:"eventHubName"`
	ConsumerGroup string   `json:"consumerGroup"`
	Cardinality   string   `json:"cardinality"`
	DataType      string   `json:"dataType"`
}

// Trigger types, lower-cased as compared.
const (
	triggerHTTP      = "httptrigger"
	triggerTimer     = "timertrigger"
	triggerQueue     = "queuetrigger"
	triggerEventHub  = "eventhubtrigger"
	triggerEventGrid = "eventgridtrigger"
)

// Kind is the lower-cased trigger type of the function.
func (f *Function) Kind() string { return strings.ToLower(f.Trigger.Type) }

// httpInAndOut reports whether the function has exactly an HTTP trigger and
// an HTTP output, the only shape the host forwards as a raw request.
func (f *Function) httpInAndOut() bool {
	if f.Kind() != triggerHTTP || len(f.Bindings) != 2 {
		return false
	}
	for _, b := range f.Bindings {
		if b.Direction == "out" && strings.EqualFold(b.Type, "http") {
			return true
		}
	}
	return false
}

// httpOutput is the name of the HTTP output binding ("" when none).
func (f *Function) httpOutput() string {
	for _, b := range f.Bindings {
		if b.Direction == "out" && strings.EqualFold(b.Type, "http") {
			return b.Name
		}
	}
	return ""
}

// LoadOptions says where to find the app and its settings.
type LoadOptions struct {
	Dir          string
	SettingsFile string   // "" = <Dir>/local.settings.json when present
	Environ      []string // the process environment; wins over local.settings.json like Core Tools
}

// LoadApp reads host.json, every function.json (in <dir>/*/ and
// <dir>/functions/*/) and the settings.
func LoadApp(o LoadOptions) (*App, error) {
	dir, err := filepath.Abs(o.Dir)
	if err != nil {
		return nil, fmt.Errorf("app dir %s: %w", o.Dir, err)
	}
	settings, err := loadSettings(dir, o.SettingsFile, o.Environ)
	if err != nil {
		return nil, err
	}
	host, err := loadHostJSON(filepath.Join(dir, "host.json"))
	if err != nil {
		return nil, err
	}
	fns, err := loadFunctions(dir, settings)
	if err != nil {
		return nil, err
	}
	return &App{Dir: dir, Host: host, Functions: fns, Settings: settings}, nil
}

// Function returns the function with that name (case-insensitive, like the host).
func (a *App) Function(name string) *Function {
	for _, f := range a.Functions {
		if strings.EqualFold(f.Name, name) {
			return f
		}
	}
	return nil
}

type hostJSON struct {
	FunctionTimeout string `json:"functionTimeout"`
	CustomHandler   *struct {
		Description struct {
			DefaultExecutablePath string   `json:"defaultExecutablePath"`
			WorkingDirectory      string   `json:"workingDirectory"`
			Arguments             []string `json:"arguments"`
		} `json:"description"`
		EnableForwardingHTTPRequest bool `json:"enableForwardingHttpRequest"`
	} `json:"customHandler"`
	Extensions struct {
		HTTP struct {
			RoutePrefix            *string `json:"routePrefix"`
			MaxConcurrentRequests  *int    `json:"maxConcurrentRequests"`
			MaxOutstandingRequests *int    `json:"maxOutstandingRequests"`
		} `json:"http"`
		Queues struct {
			MaxDequeueCount    *int            `json:"maxDequeueCount"`
			VisibilityTimeout  string          `json:"visibilityTimeout"`
			BatchSize          *int            `json:"batchSize"`
			MessageEncoding    string          `json:"messageEncoding"`
			MaxPollingInterval json.RawMessage `json:"maxPollingInterval"`
		} `json:"queues"`
		EventHubs struct {
			MaxEventBatchSize *int `json:"maxEventBatchSize"`
			MaxBatchSize      *int `json:"maxBatchSize"` // the v4 extension's name
		} `json:"eventHubs"`
	} `json:"extensions"`
}

func loadHostJSON(path string) (HostConfig, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return HostConfig{}, fmt.Errorf("read host.json: %w", err)
	}
	var h hostJSON
	if err := json.Unmarshal(raw, &h); err != nil {
		return HostConfig{}, fmt.Errorf("parse %s: %w", path, err)
	}
	c := HostConfig{
		RoutePrefix:          "api",
		HTTPThrottle:         HTTPThrottle{MaxConcurrent: -1, MaxOutstanding: -1},
		FunctionTimeout:      30 * time.Minute,
		EventHubMaxBatchSize: 100,
		Queues: QueueOptions{
			MaxDequeueCount:    5,
			BatchSize:          16,
			MessageEncoding:    "base64",
			MaxPollingInterval: 2 * time.Second, // the host's default is 1 min; a dev loop wants snappier pickup
		},
	}
	if h.CustomHandler != nil {
		c.hasCustomHandlerBlock = true
		c.Handler = h.CustomHandler.Description.DefaultExecutablePath
		c.HandlerArgs = h.CustomHandler.Description.Arguments
		c.HandlerWorkDir = h.CustomHandler.Description.WorkingDirectory
		c.ForwardHTTP = h.CustomHandler.EnableForwardingHTTPRequest
	}
	if h.FunctionTimeout != "" {
		if c.FunctionTimeout, err = parseTimeSpan(h.FunctionTimeout); err != nil {
			return c, fmt.Errorf("host.json functionTimeout: %w", err)
		}
	}
	if p := h.Extensions.HTTP.RoutePrefix; p != nil {
		c.RoutePrefix = strings.Trim(*p, "/")
	}
	for name, v := range map[string]struct {
		in  *int
		out *int
	}{
		"maxConcurrentRequests":  {h.Extensions.HTTP.MaxConcurrentRequests, &c.HTTPThrottle.MaxConcurrent},
		"maxOutstandingRequests": {h.Extensions.HTTP.MaxOutstandingRequests, &c.HTTPThrottle.MaxOutstanding},
	} {
		if v.in == nil {
			continue
		}
		if *v.in < 1 && *v.in != -1 {
			return c, fmt.Errorf("host.json extensions.http.%s must be -1 (unbounded) or at least 1, got %d", name, *v.in)
		}
		*v.out = *v.in
	}
	q := h.Extensions.Queues
	if q.MaxDequeueCount != nil {
		if *q.MaxDequeueCount < 1 {
			return c, fmt.Errorf("host.json extensions.queues.maxDequeueCount must be at least 1, got %d", *q.MaxDequeueCount)
		}
		c.Queues.MaxDequeueCount = *q.MaxDequeueCount
	}
	if q.BatchSize != nil {
		if *q.BatchSize < 1 || *q.BatchSize > 32 {
			return c, fmt.Errorf("host.json extensions.queues.batchSize must be 1..32, got %d", *q.BatchSize)
		}
		c.Queues.BatchSize = *q.BatchSize
	}
	if q.VisibilityTimeout != "" {
		if c.Queues.VisibilityTimeout, err = parseTimeSpan(q.VisibilityTimeout); err != nil {
			return c, fmt.Errorf("host.json extensions.queues.visibilityTimeout: %w", err)
		}
	}
	if len(q.MaxPollingInterval) > 0 {
		if c.Queues.MaxPollingInterval, err = parseDurationSetting(q.MaxPollingInterval); err != nil {
			return c, fmt.Errorf("host.json extensions.queues.maxPollingInterval: %w", err)
		}
	}
	switch enc := strings.ToLower(q.MessageEncoding); enc {
	case "":
	case "base64", "none":
		c.Queues.MessageEncoding = enc
	default:
		return c, fmt.Errorf("host.json extensions.queues.messageEncoding must be base64 or none, got %q", q.MessageEncoding)
	}
	eh := h.Extensions.EventHubs
	for _, n := range []*int{eh.MaxBatchSize, eh.MaxEventBatchSize} {
		if n != nil {
			if *n < 1 {
				return c, fmt.Errorf("host.json extensions.eventHubs batch size must be at least 1, got %d", *n)
			}
			c.EventHubMaxBatchSize = *n
		}
	}
	return c, nil
}

// parseDurationSetting accepts a TimeSpan string or a number of milliseconds,
// the two forms the host accepts for polling intervals.
func parseDurationSetting(raw json.RawMessage) (time.Duration, error) {
	var ms int64
	if err := json.Unmarshal(raw, &ms); err == nil {
		return time.Duration(ms) * time.Millisecond, nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return 0, fmt.Errorf("want a TimeSpan string or milliseconds, got %s", raw)
	}
	return parseTimeSpan(s)
}

var timeSpanRE = regexp.MustCompile(`^(?:(\d+)\.)?(\d{1,2}):(\d{1,2})(?::(\d{1,2})(?:\.(\d{1,7}))?)?$`)

// parseTimeSpan parses a .NET TimeSpan as used in host.json: [d.]hh:mm[:ss[.fffffff]].
func parseTimeSpan(s string) (time.Duration, error) {
	m := timeSpanRE.FindStringSubmatch(strings.TrimSpace(s))
	if m == nil {
		return 0, fmt.Errorf("%q is not a TimeSpan ([d.]hh:mm[:ss[.fffffff]])", s)
	}
	num := func(v string) int64 { n, _ := strconv.ParseInt(v, 10, 64); return n }
	hours, minutes, seconds := num(m[2]), num(m[3]), num(m[4])
	if hours > 23 || minutes > 59 || seconds > 59 {
		return 0, fmt.Errorf("%q is not a TimeSpan: field out of range", s)
	}
	d := time.Duration(num(m[1]))*24*time.Hour + time.Duration(hours)*time.Hour +
		time.Duration(minutes)*time.Minute + time.Duration(seconds)*time.Second
	if frac := m[5]; frac != "" {
		frac += strings.Repeat("0", 7-len(frac))
		d += time.Duration(num(frac)) * 100 // 100 ns ticks
	}
	return d, nil
}

func loadFunctions(dir string, settings Settings) ([]*Function, error) {
	var paths []string
	for _, pattern := range []string{"*/function.json", "functions/*/function.json"} {
		m, err := filepath.Glob(filepath.Join(dir, pattern))
		if err != nil {
			return nil, fmt.Errorf("find function.json files: %w", err)
		}
		paths = append(paths, m...)
	}
	sort.Strings(paths)
	var fns []*Function
	seen := map[string]string{}
	for _, p := range paths {
		f, err := loadFunction(p, settings)
		if err != nil {
			return nil, err
		}
		key := strings.ToLower(f.Name)
		if other, dup := seen[key]; dup {
			return nil, fmt.Errorf("function %s is defined twice: %s and %s", f.Name, other, p)
		}
		seen[key] = p
		fns = append(fns, f)
	}
	if len(fns) == 0 {
		return nil, fmt.Errorf("no function.json under %s (looked in */ and functions/*/)", dir)
	}
	return fns, nil
}

func loadFunction(path string, settings Settings) (*Function, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	var fj struct {
		Disabled json.RawMessage `json:"disabled"`
		Bindings []Binding       `json:"bindings"`
		Retry    json.RawMessage `json:"retry"`
	}
	if err := json.Unmarshal(raw, &fj); err != nil {
		return nil, fmt.Errorf("parse %s: %w", path, err)
	}
	f := &Function{Name: filepath.Base(filepath.Dir(path)), Dir: filepath.Dir(path), Bindings: fj.Bindings, HasRetry: len(fj.Retry) > 0}
	triggers := 0
	for i := range f.Bindings {
		b := &f.Bindings[i]
		b.Direction = strings.ToLower(b.Direction)
		for _, field := range []*string{&b.Route, &b.Schedule, &b.QueueName, &b.EventHubName, &b.ConsumerGroup, &b.Connection} {
			if *field, err = settings.Resolve(*field); err != nil {
				return nil, fmt.Errorf("%s binding %q: %w", path, b.Name, err)
			}
		}
		if strings.HasSuffix(strings.ToLower(b.Type), "trigger") {
			triggers++
			f.Trigger = *b
		}
	}
	if triggers != 1 {
		return nil, fmt.Errorf("%s: want exactly one trigger binding, found %d", path, triggers)
	}
	if f.Trigger.Name == "" {
		return nil, fmt.Errorf("%s: the trigger binding has no name", path)
	}
	f.Disabled = truthy(string(fj.Disabled))
	if v, ok := settings.Get("AzureWebJobs." + f.Name + ".Disabled"); ok && truthy(v) {
		f.Disabled = true
	}
	return f, nil
}

func truthy(v string) bool {
	v = strings.Trim(strings.ToLower(strings.TrimSpace(v)), `"`)
	return v == "true" || v == "1"
}

// Settings are the app settings: the process environment first, then the
// "Values" of local.settings.json (Core Tools skips a local value whose name
// is already set in the environment).
type Settings struct {
	env    map[string]string
	values map[string]string
}

func loadSettings(dir, file string, environ []string) (Settings, error) {
	s := Settings{env: map[string]string{}, values: map[string]string{}}
	for _, kv := range environ {
		if k, v, ok := strings.Cut(kv, "="); ok {
			s.env[k] = v
		}
	}
	explicit := file != ""
	if !explicit {
		file = filepath.Join(dir, "local.settings.json")
	}
	raw, err := os.ReadFile(file)
	if errors.Is(err, os.ErrNotExist) && !explicit {
		return s, nil
	}
	if err != nil {
		return s, fmt.Errorf("read settings: %w", err)
	}
	var ls struct {
		Values map[string]any `json:"Values"`
	}
	if err := json.Unmarshal(raw, &ls); err != nil {
		return s, fmt.Errorf("parse %s: %w", file, err)
	}
	for k, v := range ls.Values {
		switch v := v.(type) {
		case string:
			s.values[k] = v
		case nil:
		default:
			// Core Tools rejects non-string values; so do we, naming the setting.
			return s, fmt.Errorf("%s: Values.%s must be a string", file, k)
		}
	}
	return s, nil
}

// Get looks a setting up.
func (s Settings) Get(name string) (string, bool) {
	if v, ok := s.env[name]; ok {
		return v, true
	}
	v, ok := s.values[name]
	return v, ok
}

// Environ is the handler's environment: the process environment plus the
// local settings not already set in it.
func (s Settings) Environ() []string {
	out := make([]string, 0, len(s.env)+len(s.values))
	for k, v := range s.env {
		out = append(out, k+"="+v)
	}
	for k, v := range s.values {
		if _, set := s.env[k]; !set {
			out = append(out, k+"="+v)
		}
	}
	sort.Strings(out)
	return out
}

var bindingExprRE = regexp.MustCompile(`%([^%]+)%`)

// Resolve replaces %Name% binding expressions with app settings, as the host
// does for queue names, schedules and routes.
func (s Settings) Resolve(v string) (string, error) {
	var missing []string
	out := bindingExprRE.ReplaceAllStringFunc(v, func(m string) string {
		name := strings.Trim(m, "%")
		val, ok := s.Get(name)
		if !ok {
			missing = append(missing, name)
		}
		return val
	})
	if len(missing) > 0 {
		return "", fmt.Errorf("app setting %s is not set", strings.Join(missing, ", "))
	}
	return out, nil
}
