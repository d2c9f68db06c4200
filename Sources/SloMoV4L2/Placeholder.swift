public enum SloMoV4L2Placeholder {}
