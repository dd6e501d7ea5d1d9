package rnode

import (
	"encoding/hex"
	"encoding/json"
	"os"
	"testing"
)

// kissVectors is the subset of testdata/kiss.json (a copy of
// shared/vectors/rnode/kiss.json) the tests use.
type kissVectors struct {
	Framing struct {
		EscapeExample struct {
			BodyHex    string `json:"body_hex"`
			EscapedHex string `json:"escaped_hex"`
		} `json:"escape_example"`
	} `json:"framing"`
	Scenarios []struct {
		Name       string `json:"name"`
		HostConfig struct {
			Frequency uint32   `json:"frequency"`
			Bandwidth uint32   `json:"bandwidth"`
			TxPower   int      `json:"txpower"`
			SF        int      `json:"spreadingfactor"`
			CR        int      `json:"codingrate"`
			STALock   *float64 `json:"airtime_limit_short"`
			LTALock   *float64 `json:"airtime_limit_long"`
		} `json:"host_config"`
		DeviceModel struct {
			Platform string `json:"platform"`
			MCU      string `json:"mcu"`
		} `json:"device_model"`
		HostResult struct {
			Online bool `json:"online"`
		} `json:"host_result"`
		Exchange []struct {
			Direction string          `json:"direction"`
			Hex       string          `json:"hex"`
			Meaning   string          `json:"meaning"`
			Decoded   json.RawMessage `json:"decoded"`
		} `json:"exchange"`
	} `json:"scenarios"`
	HostDataFrame struct {
		PayloadHex string `json:"payload_hex"`
		FrameHex   string `json:"frame_hex"`
	} `json:"host_data_frame"`
	DeviceRxDelivery struct {
		PayloadHex string `json:"payload_hex"`
		RSSI       int    `json:"rssi_dbm"`
		Frames     []struct {
			Hex string `json:"hex"`
		} `json:"frames"`
		HostInbound struct {
			SNR float64 `json:"r_stat_snr"`
		} `json:"host_inbound"`
	} `json:"device_rx_delivery"`
	DeviceChannelStats struct {
		FrameHex   string `json:"frame_hex"`
		HostParsed struct {
			AirtimeShort float64  `json:"r_airtime_short"`
			AirtimeLong  float64  `json:"r_airtime_long"`
			LoadShort    float64  `json:"r_channel_load_short"`
			LoadLong     float64  `json:"r_channel_load_long"`
			CurrentRSSI  int      `json:"r_current_rssi"`
			NoiseFloor   int      `json:"r_noise_floor"`
			Interference *int     `json:"r_interference"`
			_            struct{} `json:"-"`
		} `json:"host_parsed"`
	} `json:"device_channel_stats"`
	Detach struct {
		Exchange []struct {
			Direction string `json:"direction"`
			Hex       string `json:"hex"`
		} `json:"exchange"`
	} `json:"detach"`
	OnAir struct {
		Examples []struct {
			Len        int    `json:"rns_packet_len"`
			PacketHex  string `json:"rns_packet_hex"`
			KISSHex    string `json:"host_kiss_data_frame_hex"`
			Nibble     int    `json:"sequence_nibble"`
			HeaderHex  string `json:"header_byte_hex"`
			Split      bool   `json:"split"`
			LoRaFrames []struct {
				Len int    `json:"len"`
				Hex string `json:"hex"`
			} `json:"lora_frames"`
		} `json:"examples"`
		Edge508 struct {
			Nibble     int `json:"sequence_nibble"`
			LoRaFrames []struct {
				Len int    `json:"len"`
				Hex string `json:"hex"`
			} `json:"lora_frames"`
		} `json:"edge_508"`
	} `json:"on_air"`
}

func loadVectors(t testing.TB) *kissVectors {
	t.Helper()
	b, err := os.ReadFile("testdata/kiss.json")
	if err != nil {
		t.Fatal(err)
	}
	var v kissVectors
	if err := json.Unmarshal(b, &v); err != nil {
		t.Fatal(err)
	}
	return &v
}

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatalf("bad hex %q: %v", s, err)
	}
	return b
}
