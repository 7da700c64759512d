package agent

import (
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"strconv"
)

// AddrParts resolves a bind or advertise address "host[:port]" to an IP
// string and port. A missing port becomes DefaultBindPort (7946); IPv6
// literals need brackets ("[::1]" or "[::1]:7946"); host names are resolved
// once. An empty host yields "0.0.0.0".
func (c *Config) AddrParts(address string) (string, int, error) {
	checkAddr := address
	if _, _, err := net.SplitHostPort(checkAddr); err != nil {
		var addrErr *net.AddrError
		if !errors.As(err, &addrErr) || addrErr.Err != "missing port in address" {
			return "", 0, err
		}
		checkAddr = checkAddr + ":" + strconv.Itoa(DefaultBindPort)
		// Appending the port can still leave an invalid form ("[::1]x").
		if _, _, err := net.SplitHostPort(checkAddr); err != nil {
			return "", 0, err
		}
	}
	addr, err := net.ResolveTCPAddr("tcp", checkAddr)
	if err != nil {
		return "", 0, err
	}
	if addr.IP == nil {
		return DefaultBindAddr, addr.Port, nil
	}
	return addr.IP.String(), addr.Port, nil
}

// EncryptBytes decodes EncryptKey (standard padded base64). An empty key
// gives nil, nil. The key length is not checked here: memberlist rejects
// sizes other than 16, 24 or 32 bytes when Serf is created.
func (c *Config) EncryptBytes() ([]byte, error) {
	if c.EncryptKey == "" {
		return nil, nil
	}
	return base64.StdEncoding.DecodeString(c.EncryptKey)
}

// MDNSNetworkInterface returns the interface used for mDNS: mdns.interface
// if set, else interface, else nil (all multicast interfaces).
func (c *Config) MDNSNetworkInterface() (*net.Interface, error) {
	switch {
	case c.MDNS.Interface != "":
		return net.InterfaceByName(c.MDNS.Interface)
	case c.Interface != "":
		return net.InterfaceByName(c.Interface)
	}
	return nil, nil
}

// StartupSettings are the values the agent derives from a Config just before
// "Starting Serf agent...".
type StartupSettings struct {
	// BindIP and BindPort are the resolved bind address; with Interface set
	// and a wildcard bind IP, BindIP is the interface address chosen.
	BindIP   string
	BindPort int
	// BindAddr is BindIP:BindPort as shown in the banner (IPv6 bracketed).
	BindAddr string
	// AdvertiseIP is empty when advertise is not configured.
	AdvertiseIP   string
	AdvertisePort int
	// EncryptKey is the decoded encrypt_key, nil if none.
	EncryptKey []byte
	// Profile is the validated timing profile.
	Profile string
}

// StartupSettings checks and resolves, in Serf's order: bind address,
// interface address selection, advertise address, encryption key, profile.
// notices are lines to print (without "==> ") before "Starting Serf
// agent...", e.g. "Using interface 'eth0' address '10.0.0.5'"; they are
// returned even when err is not nil, and should be printed before it.
func (c *Config) StartupSettings() (settings *StartupSettings, notices []string, err error) {
	return c.startupSettings(interfaceAddrs)
}

func interfaceAddrs(name string) ([]net.Addr, error) {
	iface, err := net.InterfaceByName(name)
	if err != nil {
		return nil, fmt.Errorf("Invalid network interface: %w", err)
	}
	addrs, err := iface.Addrs()
	if err != nil {
		return nil, fmt.Errorf("Failed to get interface addresses: %w", err)
	}
	return addrs, nil
}

func (c *Config) startupSettings(ifaceAddrs func(name string) ([]net.Addr, error)) (*StartupSettings, []string, error) {
	var notices []string
	bindIP, bindPort, err := c.AddrParts(c.BindAddr)
	if err != nil {
		return nil, nil, fmt.Errorf("Invalid bind address: %w", err)
	}

	if c.Interface != "" {
		addrs, err := ifaceAddrs(c.Interface)
		if err != nil {
			return nil, nil, err
		}
		if len(addrs) == 0 {
			return nil, nil, fmt.Errorf("Interface '%s' has no addresses", c.Interface)
		}
		if bindIP == DefaultBindAddr {
			found := false
			for _, a := range addrs {
				ip := addrIP(a)
				if ip == nil || ip.IsLinkLocalUnicast() {
					continue
				}
				bindIP = ip.String()
				notices = append(notices, fmt.Sprintf("Using interface '%s' address '%s'", c.Interface, bindIP))
				found = true
				break
			}
			if !found {
				return nil, notices, fmt.Errorf("Failed to find usable address for interface '%s'", c.Interface)
			}
		} else {
			found := false
			for _, a := range addrs {
				if ip := addrIP(a); ip != nil && ip.String() == bindIP {
					found = true
					break
				}
			}
			if !found {
				return nil, notices, fmt.Errorf("Interface '%s' has no '%s' address", c.Interface, bindIP)
			}
		}
	}

	s := &StartupSettings{
		BindIP:   bindIP,
		BindPort: bindPort,
		BindAddr: net.JoinHostPort(bindIP, strconv.Itoa(bindPort)),
	}
	if c.AdvertiseAddr != "" {
		s.AdvertiseIP, s.AdvertisePort, err = c.AddrParts(c.AdvertiseAddr)
		if err != nil {
			return nil, notices, fmt.Errorf("Invalid advertise address: %w", err)
		}
	}
	s.EncryptKey, err = c.EncryptBytes()
	if err != nil {
		return nil, notices, fmt.Errorf("Invalid encryption key: %w", err)
	}
	if !ValidProfile(c.Profile) {
		return nil, notices, fmt.Errorf("Unknown profile: %s", c.Profile)
	}
	s.Profile = c.Profile
	return s, notices, nil
}

func addrIP(a net.Addr) net.IP {
	switch v := a.(type) {
	case *net.IPNet:
		return v.IP
	case *net.IPAddr:
		return v.IP
	}
	return nil
}
